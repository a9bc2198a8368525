package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"manouche/settings"
)

// S3Settings is the s3 backend's settings section: the seed project's
// environment variables, with django-storages' DJANGO_AWS_* and
// AWS_S3_REGION_NAME spellings as aliases.
type S3Settings struct {
	// Enable is the seed's switch: ENABLE_MEDIA_UPLOAD_TO_S3=true selects s3
	// when STORAGE_BACKEND is not set explicitly.
	Enable            bool          `setting:"ENABLE_MEDIA_UPLOAD_TO_S3"`
	AccessKeyID       string        `setting:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey   string        `setting:"AWS_SECRET_ACCESS_KEY" secret:"true"`
	Bucket            string        `setting:"AWS_STORAGE_BUCKET_NAME"`
	Region            string        `setting:"AWS_S3_REGION"`
	EndpointURL       string        `setting:"AWS_S3_ENDPOINT_URL"`
	QuerystringAuth   bool          `setting:"AWS_QUERYSTRING_AUTH"`
	QuerystringExpire time.Duration `setting:"AWS_QUERYSTRING_EXPIRE"`
	CacheControl      string        `setting:"AWS_S3_CACHE_CONTROL"`
}

// Validate implements settings.Validator: it names every missing setting.
func (s *S3Settings) Validate(*settings.Settings) []string {
	var p []string
	const why = "with STORAGE_BACKEND=s3 (or ENABLE_MEDIA_UPLOAD_TO_S3=true)"
	for _, f := range []struct{ name, value string }{
		{"AWS_ACCESS_KEY_ID", s.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", s.SecretAccessKey},
		{"AWS_STORAGE_BUCKET_NAME", s.Bucket},
		{"AWS_S3_REGION", s.Region},
	} {
		if strings.TrimSpace(f.value) == "" {
			p = append(p, fmt.Sprintf("%s is required %s", f.name, why))
		}
	}
	if s.EndpointURL != "" {
		if u, err := url.Parse(s.EndpointURL); err != nil || u.Scheme == "" || u.Host == "" {
			p = append(p, fmt.Sprintf("AWS_S3_ENDPOINT_URL=%q is not an absolute URL", s.EndpointURL))
		}
	}
	return p
}

// Config returns the S3Config the section describes.
func (s *S3Settings) Config() S3Config {
	return S3Config{
		Bucket: s.Bucket, Region: s.Region, Endpoint: s.EndpointURL,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey,
		QuerystringAuth: s.QuerystringAuth, QuerystringExpire: s.QuerystringExpire,
		CacheControl: s.CacheControl,
	}
}

func init() {
	Register("s3", Module[S3Settings]{
		Settings: S3Settings{Region: "us-east-1", QuerystringExpire: time.Hour, CacheControl: "max-age=86400"},
		Open: func(ctx context.Context, s *S3Settings, _ *settings.Settings) (Storage, error) {
			return NewS3(ctx, s.Config())
		},
		SelectedBy: "ENABLE_MEDIA_UPLOAD_TO_S3",
		Aliases: map[string]string{
			"DJANGO_AWS_ACCESS_KEY_ID":       "AWS_ACCESS_KEY_ID",
			"DJANGO_AWS_SECRET_ACCESS_KEY":   "AWS_SECRET_ACCESS_KEY",
			"DJANGO_AWS_STORAGE_BUCKET_NAME": "AWS_STORAGE_BUCKET_NAME",
			"DJANGO_AWS_S3_REGION_NAME":      "AWS_S3_REGION",
			"AWS_S3_REGION_NAME":             "AWS_S3_REGION",
		},
	})
}

// S3Config configures the S3 backend. The comments name the settings (the
// seed's environment variables) each field comes from; the settings package
// also accepts the seed's DJANGO_AWS_* spellings.
type S3Config struct {
	// Bucket is AWS_STORAGE_BUCKET_NAME. Required.
	Bucket string
	// Region is AWS_S3_REGION (AWS_S3_REGION_NAME in django-storages);
	// empty means us-east-1.
	Region string
	// Endpoint is AWS_S3_ENDPOINT_URL, for S3-compatible services (MinIO,
	// R2, Spaces, gofakes3), such as "http://127.0.0.1:9000"; empty means AWS.
	Endpoint string
	// AccessKeyID and SecretAccessKey are AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY; when both are empty the SDK's default chain
	// (environment, shared files, instance role) is used.
	AccessKeyID     string
	SecretAccessKey string
	// QuerystringAuth is AWS_QUERYSTRING_AUTH: URL returns presigned GET URLs
	// (X-Amz-Signature, valid QuerystringExpire) for a private bucket;
	// false returns plain public URLs for a public-read bucket.
	QuerystringAuth bool
	// QuerystringExpire is AWS_QUERYSTRING_EXPIRE (seconds in the settings);
	// zero means one hour; S3 accepts at most seven days.
	QuerystringExpire time.Duration
	// CacheControl is the Cache-Control header stored with every upload
	// (AWS_S3_OBJECT_PARAMETERS' CacheControl in django-storages), such as
	// "max-age=86400"; empty stores none. SaveOptions.CacheControl overrides it.
	CacheControl string
	// UsePathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key (AWS_S3_ADDRESSING_STYLE=path). It is forced on when
	// Endpoint is set, as S3-compatible services need.
	UsePathStyle bool
	// CustomDomain is AWS_S3_CUSTOM_DOMAIN, a CDN or domain serving the bucket
	// ("cdn.example.com" or "https://cdn.example.com"); when set, URL returns
	// unsigned URLs on it whatever QuerystringAuth says.
	CustomDomain string
	// MaxAttempts bounds the SDK's tries per request (first try included);
	// zero means the SDK's default, 3.
	MaxAttempts int
	// ConnectTimeout bounds opening a connection; zero means 5 s.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for a response's headers once the
	// request is sent; zero means 30 s.
	ResponseTimeout time.Duration
	// Timeout bounds each whole operation, retries included (for Open, until
	// the body is closed), so that a server that accepts a connection and
	// then stalls cannot hold a request forever; zero means 2 minutes.
	Timeout time.Duration
	// DisableConditionalWrites stops sending If-None-Match: * with uploads.
	// That header makes S3 itself refuse to replace an existing object (a
	// second safeguard after the random names; AWS S3 honours it since 2024,
	// gofakes3 too); set this only for an S3-compatible service that rejects
	// it.
	DisableConditionalWrites bool
	// TempDir is where uploads of unknown length are spooled before being
	// sent; empty means the system's temporary folder.
	TempDir string
}

// S3 stores files in an S3 bucket. It is safe for concurrent use.
type S3 struct {
	client    *s3.Client
	presign   *s3.PresignClient
	cfg       S3Config
	publicURL string // prefix of unsigned URLs, ends with "/"
}

// NewS3 builds an S3 client from cfg. It does not contact the service: call
// Ping to check the bucket is reachable.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("storage: s3: AWS_STORAGE_BUCKET_NAME is empty")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("storage: s3: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.QuerystringExpire <= 0 {
		cfg.QuerystringExpire = time.Hour
	}
	if cfg.QuerystringExpire > 7*24*time.Hour {
		return nil, fmt.Errorf("storage: s3: AWS_QUERYSTRING_EXPIRE %v is over S3's limit of 7 days", cfg.QuerystringExpire)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("storage: s3: AWS_S3_ENDPOINT_URL %q is not an http(s) URL", cfg.Endpoint)
		}
		cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
		cfg.UsePathStyle = true
	}

	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = cfg.ConnectTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = cfg.ResponseTimeout
			t.MaxIdleConnsPerHost = 64
		})
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(httpClient),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: load AWS config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.UsePathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// S3-compatible services may reject the newer integrity
			// checksums the SDK sends by default (STACK.md, trap 11).
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	s := &S3{
		client: client,
		presign: s3.NewPresignClient(client, func(o *s3.PresignOptions) {
			o.Expires = cfg.QuerystringExpire
		}),
		cfg: cfg,
	}
	s.publicURL = publicPrefix(cfg)
	return s, nil
}

// publicPrefix returns the URL prefix of unsigned object URLs, ending in "/".
func publicPrefix(cfg S3Config) string {
	if d := strings.TrimRight(cfg.CustomDomain, "/"); d != "" {
		if !strings.Contains(d, "://") {
			d = "https://" + d
		}
		return d + "/"
	}
	if cfg.Endpoint != "" { // path style, forced above
		return cfg.Endpoint + "/" + url.PathEscape(cfg.Bucket) + "/"
	}
	if cfg.UsePathStyle {
		return "https://s3." + cfg.Region + ".amazonaws.com/" + url.PathEscape(cfg.Bucket) + "/"
	}
	return "https://" + cfg.Bucket + ".s3." + cfg.Region + ".amazonaws.com/"
}

// Save implements [Storage] with one PutObject of known length: a seekable r
// (an [*Image], an *os.File, a multipart file) is sent as it is, anything else
// is first spooled to a temporary file, so memory stays constant. S3 stores
// the object whole or not at all. Unless DisableConditionalWrites is set, the
// request carries If-None-Match: *, so S3 itself refuses to replace an object.
func (s *S3) Save(ctx context.Context, name string, r io.Reader, opts SaveOptions) (string, error) {
	dir, filename, err := splitName(name)
	if err == nil {
		err = checkDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("storage: s3: save: %w", err)
	}
	body, err := newSizedBody(r, s.cfg.TempDir)
	if err != nil {
		return "", fmt.Errorf("storage: s3: save %q: %w", name, err)
	}
	defer body.close()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	cacheControl := s.cfg.CacheControl
	if opts.CacheControl != "" {
		cacheControl = opts.CacheControl
	}
	for range 3 {
		key, err := SafeName(dir, filename)
		if err != nil {
			return "", fmt.Errorf("storage: s3: save: %w", err)
		}
		if err := body.rewind(); err != nil {
			return "", fmt.Errorf("storage: s3: save %q: rewind: %w", key, err)
		}
		in := &s3.PutObjectInput{
			Bucket:        aws.String(s.cfg.Bucket),
			Key:           aws.String(key),
			Body:          body.ReadSeeker,
			ContentLength: aws.Int64(body.size),
			ContentType:   aws.String(contentType(key, opts)),
		}
		if cacheControl != "" {
			in.CacheControl = aws.String(cacheControl)
		}
		if !s.cfg.DisableConditionalWrites {
			in.IfNoneMatch = aws.String("*")
		}
		_, err = s.client.PutObject(ctx, in)
		if isStatus(err, http.StatusPreconditionFailed) {
			continue // the name is taken: draw another
		}
		if err != nil {
			return "", s.wrap("save", key, err)
		}
		return key, nil
	}
	return "", fmt.Errorf("storage: s3: save %q: no free name after 3 tries", name)
}

// Open implements [Storage]; the body streams from S3.
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("storage: s3: open: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
	if err != nil {
		cancel()
		return nil, s.wrap("open", name, err)
	}
	return &cancelOnClose{ReadCloser: out.Body, cancel: cancel}, nil
}

// cancelOnClose releases an operation's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Delete implements [Storage]; S3 answers a delete of a missing key with success.
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("storage: s3: delete: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
	if err == nil {
		return nil
	}
	if err = s.wrap("delete", name, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Exists implements [Storage] with a HeadObject.
func (s *S3) Exists(ctx context.Context, name string) (bool, error) {
	_, err := s.Size(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Size implements [Storage] with a HeadObject.
func (s *S3) Size(ctx context.Context, name string) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, fmt.Errorf("storage: s3: size: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
	if err != nil {
		return 0, s.wrap("size", name, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// URL implements [Storage]: an absolute URL, presigned for QuerystringExpire
// when QuerystringAuth is set (and CustomDomain is not). Signing is local: it
// neither contacts S3 nor checks that the object exists.
func (s *S3) URL(ctx context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("storage: s3: url: %w", err)
	}
	if !s.cfg.QuerystringAuth || s.cfg.CustomDomain != "" {
		return s.publicURL + escapePath(name), nil
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("storage: s3: presign %q: %w", name, err)
	}
	return req.URL, nil
}

// Ping implements [Pinger] with a HeadBucket: the endpoint answers and the
// credentials may use the bucket.
func (s *S3) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return s.wrap("ping bucket", s.cfg.Bucket, err)
	}
	return nil
}

// wrap adds context and the matching sentinel to an SDK error: ErrNotFound
// for a missing key, ErrUnavailable when S3 could not be reached, timed out,
// throttled or answered 5xx (the caller's own cancellation is left as is).
// Other errors (access denied, missing bucket) are configuration faults and
// keep no sentinel.
func (s *S3) wrap(op, name string, err error) error {
	switch {
	case isStatus(err, http.StatusNotFound) && !isCode(err, "NoSuchBucket"):
		return fmt.Errorf("storage: s3: %s %q: %w: %w", op, name, ErrNotFound, err)
	case unavailable(err):
		return fmt.Errorf("storage: s3: %s %q: %w: %w", op, name, ErrUnavailable, err)
	default:
		return fmt.Errorf("storage: s3: %s %q: %w", op, name, err)
	}
}

// unavailable reports whether err means the service is down or overloaded.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; not the service's fault
	}
	var (
		sendErr  *smithyhttp.RequestSendError
		netErr   net.Error
		maxErr   *retry.MaxAttemptsError
		quotaErr ratelimit.QuotaExceededError
		respErr  *smithyhttp.ResponseError
	)
	switch {
	case errors.As(err, &sendErr), errors.As(err, &netErr), errors.As(err, &quotaErr),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &respErr):
		code := respErr.HTTPStatusCode()
		return code >= 500 || code == http.StatusTooManyRequests
	case errors.As(err, &maxErr):
		return true
	}
	return isCode(err, "SlowDown") || isCode(err, "ServiceUnavailable") || isCode(err, "RequestTimeout")
}

// isStatus reports whether err is an HTTP response with that status.
func isStatus(err error, status int) bool {
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == status
}

// isCode reports whether err is an S3 API error with that code.
func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

var (
	_ Storage = (*S3)(nil)
	_ Pinger  = (*S3)(nil)
)
