// Command avatar benchmarks PUT /api/me/avatar end to end (issue 7's target:
// sixteen concurrent 4 MB avatar uploads, each under 1 s, the process's
// resident memory growing by less than 150 MB).
//
// It builds a project in this process (the testing settings layer, a SQLite
// database in a temporary folder, media on S3), serves it on a loopback port,
// registers one user per upload, and for each round sends -n PUT
// /api/me/avatar requests at once, each a multipart body holding a PNG of
// pseudo-random pixels of about -size bytes: the server parses the form,
// validates the image (spool, full decode), stores it with one PutObject,
// updates the row and deletes the avatar it replaced. bench/storage/loadtest
// measures each request's latency and the growth of this process's resident
// memory, which holds both the HTTP clients and the server; the S3 server's
// processor time is printed beside it when this command started it.
//
// The S3-compatible server runs in a separate process so its memory is not
// counted: with no -endpoint, this command builds bench/storage and starts it
// with -serve; or start one yourself and pass its URL:
//
//	go run ./bench/avatar
//	go run ./bench/storage -serve 127.0.0.1:9000 -bucket media &
//	go run ./bench/avatar -endpoint http://127.0.0.1:9000 -bucket media
//
// It exits non-zero when an upload fails or a target is missed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"manouche/apps/users"

	"manouche/bench/storage/loadtest"
	"manouche/core"
	"manouche/core/server"
	"manouche/settings"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	var (
		endpoint  = flag.String("endpoint", "", "S3-compatible endpoint; empty starts bench/storage -serve in a child process")
		bucket    = flag.String("bucket", "media", "bucket (created by the started server)")
		n         = flag.Int("n", 16, "concurrent uploads per round")
		size      = flag.Int64("size", 4<<20, "bytes of each PNG (about)")
		rounds    = flag.Int("rounds", 3, "rounds")
		maxLat    = flag.Duration("max-latency", time.Second, "target: every upload under this")
		maxGrowth = flag.Int64("max-growth", 150<<20, "target: resident memory growth under this many bytes")
	)
	flag.Parse()

	tmp, err := os.MkdirTemp("", "bench-avatar-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	serverPID := 0
	if *endpoint == "" {
		url, pid, stop, err := startS3(tmp, *bucket)
		if err != nil {
			return err
		}
		defer stop()
		*endpoint, serverPID = url, pid
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, err := startProject(ctx, tmp, *endpoint, *bucket)
	if err != nil {
		return err
	}

	body, contentType, err := avatarBody(*size)
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: *n, MaxConnsPerHost: *n, DisableCompression: true},
	}
	tokens := make([]string, *n)
	for i := range tokens {
		if tokens[i], err = register(client, base, i); err != nil {
			return err
		}
	}
	upload := func(ctx context.Context, i int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/me/avatar", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = res.Body.Close() }()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("upload %d: %d %s", i, res.StatusCode, out)
		}
		return nil
	}
	// One upload per user first, so that connections, lazy initialization
	// and each user's first avatar (later ones replace it, deleting the old
	// file) are part of the baseline, not of a round.
	warm, err := loadtest.Run(ctx, *n, upload)
	if err != nil {
		return err
	}
	if len(warm.Errors) > 0 {
		return fmt.Errorf("warm-up: %w", errors.Join(warm.Errors...))
	}

	fmt.Printf("n=%d body=%d bytes GOMAXPROCS=%d endpoint=%s\n", *n, len(body), runtime.GOMAXPROCS(0), *endpoint)
	return loadtest.Rounds(ctx, *rounds, *n, serverPID, loadtest.Targets{MaxLatency: *maxLat, MaxGrowth: *maxGrowth}, upload)
}

// installed is the benchmark's installed list: the app under test.
var installed = []core.App{users.App{}}

// startProject builds and migrates a project storing media in the bucket,
// serves it on a loopback port until ctx ends, and returns its base URL.
func startProject(ctx context.Context, tmp, endpoint, bucket string) (string, error) {
	st, err := core.LoadSettings(settings.Options{
		Layer:          "testing",
		Environ:        []string{},
		DotEnv:         "-",
		SkipAbsentApps: true, // the benchmark links the users app only
		Overrides: map[string]any{
			"DATABASE_URL":              "sqlite://" + filepath.Join(tmp, "db.sqlite3"),
			"ENABLE_MEDIA_UPLOAD_TO_S3": true,
			"AWS_STORAGE_BUCKET_NAME":   bucket,
			"AWS_S3_ENDPOINT_URL":       endpoint,
			"AWS_ACCESS_KEY_ID":         "bench",
			"AWS_SECRET_ACCESS_KEY":     "bench",
			"AUTH_THROTTLE_RATE":        "100000/min",
			"API_THROTTLE_RATE":         "100000/min",
		},
	}, installed)
	if err != nil {
		return "", err
	}
	p, err := core.New(ctx, st, core.Options{Apps: installed})
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, func() { _ = p.Close() })
	if _, err := p.Migrations().Migrate(ctx); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ctx, p, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		return "http://" + a.String(), nil
	case err := <-errc:
		return "", fmt.Errorf("serve: %w", err)
	}
}

// register creates user i and returns its token.
func register(client *http.Client, base string, i int) (string, error) {
	in, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("bench%d@example.com", i), "password": "correct-horse-battery-9"})
	res, err := client.Post(base+"/api/auth/register", "application/json", bytes.NewReader(in))
	if err != nil {
		return "", err
	}
	defer func() { _ = res.Body.Close() }()
	var out struct {
		Token string `json:"auth_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("register %d: status %d: %v", i, res.StatusCode, err)
	}
	return out.Token, nil
}

// avatarBody returns a multipart/form-data body whose "file" part is a PNG of
// pseudo-random pixels (incompressible) of about size bytes, and its content type.
func avatarBody(size int64) ([]byte, string, error) {
	img := image.NewNRGBA(image.Rect(0, 0, 1000, max(int(size/4000), 1)))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	part, err := w.CreateFormFile("file", "photo.png")
	if err != nil {
		return nil, "", err
	}
	if err := png.Encode(part, img); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// startS3 builds bench/storage and runs it with -serve in a child process,
// returning the URL it listens on, its process id and a function that stops it.
func startS3(tmp, bucket string) (string, int, func(), error) {
	bin := filepath.Join(tmp, "s3server")
	build := exec.Command("go", "build", "-o", bin, "manouche/bench/storage")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", 0, nil, fmt.Errorf("build bench/storage: %w", err)
	}
	cmd := exec.Command(bin, "-serve", "127.0.0.1:0", "-bucket", bucket)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start the S3 server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("the S3 server did not start: %w", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}
