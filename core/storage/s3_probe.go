package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"manouche/core/checks"
)

// Probe implements checks.Prober for `check --deploy`: the bucket exists
// (HeadBucket), and a probe object .manouche-check-RANDOM can be written
// (PutObject) and deleted (DeleteObject) with the configured credentials.
func (s *S3) Probe(ctx context.Context) []checks.Issue {
	where := fmt.Sprintf("S3 bucket %q (AWS_STORAGE_BUCKET_NAME) at %s", s.cfg.Bucket, s.endpoint())
	bucket := aws.String(s.cfg.Bucket)
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); err != nil {
		return []checks.Issue{checks.Errorf("storage.E001", "%s: %s", where, s.explain("HeadBucket", err))}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := ".manouche-check-" + hex.EncodeToString(b[:])
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: bucket, Key: aws.String(key), Body: bytes.NewReader([]byte("manouche check --deploy\n")),
		ContentType: aws.String("text/plain"),
	}); err != nil {
		return []checks.Issue{checks.Errorf("storage.E002", "%s: cannot write an object: %s", where, s.explain("PutObject", err))}
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String(key)}); err != nil {
		return []checks.Issue{checks.Errorf("storage.E003", "%s: wrote %s but cannot delete it (delete it by hand): %s", where, key, s.explain("DeleteObject", err))}
	}
	return []checks.Issue{checks.Infof("storage.I001", "%s: the bucket exists; a probe object was written and deleted.", where)}
}

// endpoint names where the bucket is served, for messages.
func (s *S3) endpoint() string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint + " (AWS_S3_ENDPOINT_URL)"
	}
	return "AWS region " + s.cfg.Region + " (AWS_S3_REGION)"
}

// explain says which setting to look at for a failed S3 call.
func (s *S3) explain(op string, err error) string {
	code := ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket" || op == "HeadBucket" && isStatus(err, http.StatusNotFound):
		return "the bucket does not exist. Create it, or fix AWS_STORAGE_BUCKET_NAME (and AWS_S3_REGION)."
	case code == "InvalidAccessKeyId":
		return "the access key is unknown (InvalidAccessKeyId). Check AWS_ACCESS_KEY_ID."
	case code == "SignatureDoesNotMatch":
		return "the secret key does not match the access key (SignatureDoesNotMatch). Check AWS_SECRET_ACCESS_KEY."
	case code == "AccessDenied" || isStatus(err, http.StatusForbidden):
		return fmt.Sprintf("access denied to %s (%s). Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the key's policy allows s3:ListBucket, s3:PutObject and s3:DeleteObject on the bucket.", op, codeOr(code, "403"))
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || isStatus(err, http.StatusMovedPermanently):
		return fmt.Sprintf("the bucket is in another region (%s). Set AWS_S3_REGION to the bucket's region.", codeOr(code, "301"))
	case unavailable(err):
		return fmt.Sprintf("S3 does not answer (%v). Check AWS_S3_ENDPOINT_URL and that this machine can reach it.", err)
	}
	return fmt.Sprintf("%s failed: %v", op, err)
}

func codeOr(code, def string) string {
	if code == "" {
		return def
	}
	return code
}

var _ checks.Prober = (*S3)(nil)
