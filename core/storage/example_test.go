package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path"
	"strings"

	"manouche/core/storage"
)

// The avatar upload: validate the bytes, save under a name that follows the
// content, keep the stored name, hand out its URL; map errors to statuses.
func Example() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "media-*")
	defer func() { _ = os.RemoveAll(root) }()
	st, err := storage.NewLocal(storage.LocalConfig{Root: root, BaseURL: "/media/"})
	if err != nil {
		panic(err)
	}
	defer func() { _ = storage.Close(st) }()
	validator := storage.NewImageValidator(storage.ImageLimits{MaxBytes: 5 << 20})

	upload := func(body []byte, clientName string) (string, error) {
		img, err := validator.Validate(ctx, bytes.NewReader(body)) // an HTTP body: any io.Reader
		if err != nil {
			return "", err
		}
		defer func() { _ = img.Close() }()
		stem := strings.TrimSuffix(path.Base(clientName), path.Ext(clientName))
		return st.Save(ctx, "avatars/"+stem+img.Kind.Ext(), img, storage.SaveOptions{ContentType: img.Kind.ContentType()})
	}
	status := func(err error) int {
		switch {
		case err == nil:
			return 200
		case errors.Is(err, storage.ErrTooLarge):
			return 413
		case errors.Is(err, storage.ErrNotImage), errors.Is(err, storage.ErrInvalidImage), errors.Is(err, storage.ErrInvalidName):
			return 400
		case errors.Is(err, storage.ErrUnavailable):
			return 503
		}
		return 500
	}

	var pngBody bytes.Buffer
	_ = png.Encode(&pngBody, image.NewGray(image.Rect(0, 0, 8, 8)))
	name, err := upload(pngBody.Bytes(), "me.jpeg")
	url, _ := st.URL(ctx, name)
	fmt.Println(status(err), strings.HasPrefix(url, "/media/avatars/"), strings.HasSuffix(name, "-me.png"))

	_, err = upload([]byte("just text"), "fake.png")
	fmt.Println(status(err))
	_, err = upload(pngBody.Bytes()[:pngBody.Len()-1], "cut.png")
	fmt.Println(status(err))
	// Output:
	// 200 true true
	// 400
	// 400
}
