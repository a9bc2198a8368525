// Command storage benchmarks media uploads to an S3-compatible server
// (issue 7's target: sixteen concurrent 4 MB uploads, each under 1 s, the
// uploading process's resident memory growing by less than 150 MB).
//
// It starts gofakes3 (in-memory backend) in a separate process (itself, run
// with -serve), so that the server's memory is not counted, unless -endpoint
// names a server already running. Then, for each round, it starts -n uploads
// at once through storage.S3.Save and prints their latencies and the growth
// of its own resident memory (VmHWM from /proc/self/status).
//
//	go run ./bench/storage                      # 16 × 4 MiB, streams of unknown length
//	go run ./bench/storage -mode image          # 16 × 4 MiB PNGs: validate (spool + full decode), then save
//	go run ./bench/storage -mode seekable       # 16 × 4 MiB from seekable readers (multipart files)
//
// Modes:
//   - stream: each upload is a pseudo-random io.Reader of unknown length, which
//     Save spools to a temporary file before one PutObject.
//   - seekable: each upload is an open temporary file, sent as it is.
//   - image: each upload is a 4 MiB PNG file read as a stream, checked by
//     storage.ImageValidator (the avatar endpoint's path minus HTTP).
//
// With -serve ADDR it is only the server, for other benchmarks or manual use
// (go run ./bench/storage -serve 127.0.0.1:9000 -bucket media prints its URL
// and serves until killed; any access key is accepted).
//
// It exits non-zero when an upload fails or a target is missed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"manouche/bench/storage/loadtest"
	"manouche/core/storage"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	var (
		serve     = flag.String("serve", "", "internal: serve gofakes3 on this address and print its URL")
		endpoint  = flag.String("endpoint", "", "use this S3-compatible endpoint instead of starting gofakes3")
		bucket    = flag.String("bucket", "bench", "bucket (created by the started server)")
		n         = flag.Int("n", 16, "concurrent uploads per round")
		size      = flag.Int64("size", 4<<20, "bytes per upload (image mode: about)")
		rounds    = flag.Int("rounds", 3, "rounds")
		mode      = flag.String("mode", "stream", "stream, seekable or image")
		maxLat    = flag.Duration("max-latency", time.Second, "target: every upload under this")
		maxGrowth = flag.Int64("max-growth", 150<<20, "target: resident memory growth under this many bytes")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the rounds to this file")
	)
	flag.Parse()
	if *serve != "" {
		return serveS3(*serve, *bucket)
	}

	ctx := context.Background()
	serverPID := 0
	if *endpoint == "" {
		url, pid, stop, err := startServer(*bucket)
		if err != nil {
			return err
		}
		defer stop()
		*endpoint, serverPID = url, pid
	}
	tmp, err := os.MkdirTemp("", "bench-storage-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	st, err := storage.NewS3(ctx, storage.S3Config{
		Bucket: *bucket, Endpoint: *endpoint, AccessKeyID: "bench", SecretAccessKey: "bench",
		CacheControl: "max-age=86400", TempDir: tmp,
	})
	if err != nil {
		return err
	}
	if err := st.Ping(ctx); err != nil {
		return err
	}

	upload, err := uploader(*mode, st, tmp, *n, *size)
	if err != nil {
		return err
	}
	// One upload first, so that connection setup and lazy initialization are
	// part of the baseline, not of a round.
	if err := upload(ctx, 0); err != nil {
		return fmt.Errorf("warm-up upload: %w", err)
	}

	fmt.Printf("mode=%s n=%d size=%d GOMAXPROCS=%d endpoint=%s\n", *mode, *n, *size, runtime.GOMAXPROCS(0), *endpoint)
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return loadtest.Rounds(ctx, *rounds, *n, serverPID, loadtest.Targets{MaxLatency: *maxLat, MaxGrowth: *maxGrowth}, upload)
}

// uploader returns the operation one upload performs in mode.
func uploader(mode string, st *storage.S3, tmp string, n int, size int64) (func(context.Context, int) error, error) {
	switch mode {
	case "stream":
		return func(ctx context.Context, i int) error {
			r := io.LimitReader(&pseudoRandom{rng: rand.New(rand.NewPCG(uint64(i), 7))}, size)
			_, err := st.Save(ctx, "bench/upload.bin", r, storage.SaveOptions{})
			return err
		}, nil
	case "seekable":
		files := make([]string, n)
		for i := range files {
			files[i] = fmt.Sprintf("%s/input-%d.bin", tmp, i)
			f, err := os.Create(files[i])
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, io.LimitReader(&pseudoRandom{rng: rand.New(rand.NewPCG(uint64(i), 7))}, size))
			if closeErr := f.Close(); err == nil {
				err = closeErr
			}
			if err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context, i int) error {
			f, err := os.Open(files[i%n])
			if err != nil {
				return err
			}
			defer func() { _ = f.Close() }()
			_, err = st.Save(ctx, "bench/upload.bin", f, storage.SaveOptions{})
			return err
		}, nil
	case "image":
		file := tmp + "/input.png"
		if err := writeNoisePNG(file, size); err != nil {
			return nil, err
		}
		v := storage.NewImageValidator(storage.ImageLimits{MaxBytes: 2 * size, TempDir: tmp})
		return func(ctx context.Context, _ int) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer func() { _ = f.Close() }()
			im, err := v.Validate(ctx, struct{ io.Reader }{f}) // a stream, as an HTTP body is
			if err != nil {
				return err
			}
			defer func() { _ = im.Close() }()
			_, err = st.Save(ctx, "avatars/photo"+im.Kind.Ext(), im, storage.SaveOptions{ContentType: im.Kind.ContentType()})
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown mode %q: want stream, seekable or image", mode)
}

// writeNoisePNG writes a PNG of random pixels (incompressible) of about size
// bytes: width 1000, 4 bytes a pixel.
func writeNoisePNG(path string, size int64) error {
	h := int(size / 4000)
	img := image.NewNRGBA(image.Rect(0, 0, 1000, max(h, 1)))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// pseudoRandom is a fast endless stream of pseudo-random bytes.
type pseudoRandom struct{ rng *rand.Rand }

func (p *pseudoRandom) Read(b []byte) (int, error) {
	n := len(b) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], p.rng.Uint64())
	}
	if n == 0 && len(b) > 0 {
		b[0] = byte(p.rng.Uint64())
		n = 1
	}
	return n, nil
}

// startServer runs this program with -serve in a child process and returns
// the URL it listens on, its process id and a function that stops it.
func startServer(bucket string) (string, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(self, "-serve", "127.0.0.1:0", "-bucket", bucket)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start gofakes3: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("gofakes3 did not start: %w", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}

// serveS3 serves gofakes3 with an in-memory backend and one bucket on addr,
// printing its URL on the first line of stdout.
func serveS3(addr, bucket string) error {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
