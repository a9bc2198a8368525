package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"manouche/core/api"
	"manouche/core/openapi"
	"manouche/core/storage"
)

// avatarDir is the media folder avatars are stored in.
const avatarDir = "avatars"

// avatarField is the multipart field that carries the image.
const avatarField = "file"

// Messages of the avatar API.
const (
	msgInvalidImage       = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
	msgStorageUnavailable = "Media storage is unavailable. Try again later."
	msgUserGone           = "User inactive or deleted."
)

// cleanupTimeout bounds the storage and cache calls made after the answer is
// decided (deleting a replaced or orphaned file), which must not depend on the
// client staying connected.
const cleanupTimeout = 30 * time.Second

// maxSwapAttempts bounds the compare-and-swap of the avatar column when
// concurrent requests of the same user keep changing it.
const maxSwapAttempts = 10

// errUserGone means the authenticated user's row no longer exists.
var errUserGone = errors.New("users: avatar: user deleted")

// avatarRoutes mounts PUT and DELETE /me/avatar.
func (h *handlers) avatarRoutes(d *openapi.Router, auth fiber.Handler) {
	d.Put("/me/avatar", openapi.Op{
		ID: "me_avatar_update", Summary: "Upload the signed-in user's avatar",
		Description: "Multipart part `file`: a JPEG, PNG or WebP image, at most MAX_UPLOAD_SIZE. Not an image: 400.",
		Upload:      avatarField,
		Responses:   openapi.Responses{200: Me{}},
	}, auth, h.putAvatar)
	d.Delete("/me/avatar", openapi.Op{
		ID: "me_avatar_destroy", Summary: "Remove the signed-in user's avatar",
		Responses: openapi.Responses{200: Me{}},
	}, auth, h.deleteAvatar)
}

// putAvatar validates the uploaded image (format sniffed from the bytes, fully
// decoded), stores it under a fresh name, points the user's row at it, and
// only then deletes the file it replaced. When the row cannot be updated the
// new file is deleted: nothing is left half-done.
func (h *handlers) putAvatar(c *fiber.Ctx) error {
	fh, err := api.FormFile(c, avatarField)
	if err != nil {
		return err
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("users: avatar: open upload: %w", err)
	}
	defer func() { _ = f.Close() }()
	ctx := c.UserContext()
	pr := principal(c)

	img, err := h.p.Images.Validate(ctx, f)
	if err != nil {
		return h.storageError(c, err)
	}
	defer func() {
		if err := img.Close(); err != nil {
			h.p.Log.Warn("users: avatar: remove spooled upload", "error", err)
		}
	}()
	name, err := h.p.Storage.Save(ctx, avatarDir+"/avatar"+img.Kind.Ext(), img,
		storage.SaveOptions{ContentType: img.Kind.ContentType()})
	if err != nil {
		return h.storageError(c, err)
	}

	u, old, err := h.swapAvatar(ctx, pr.ID, name)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err != nil {
		h.deleteFile(bg, c, name)
		if errors.Is(err, errUserGone) {
			return api.AuthenticationFailed(msgUserGone)
		}
		return err
	}
	h.accounts.Forget(bg, pr.ID.String())
	if old != "" {
		h.deleteFile(bg, c, old)
	}
	return c.JSON(h.out(c, u))
}

// deleteAvatar clears the user's avatar and deletes its file.
func (h *handlers) deleteAvatar(c *fiber.Ctx) error {
	ctx := c.UserContext()
	pr := principal(c)
	u, old, err := h.swapAvatar(ctx, pr.ID, "")
	if err != nil {
		if errors.Is(err, errUserGone) {
			return api.AuthenticationFailed(msgUserGone)
		}
		return err
	}
	if old != "" {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		h.accounts.Forget(bg, pr.ID.String())
		// The row no longer names the file; should the storage fail now,
		// the file is an orphan (logged), never a broken avatar_url.
		h.deleteFile(bg, c, old)
	}
	return c.JSON(h.out(c, u))
}

// swapAvatar sets the avatar column of user id to name and returns the row as
// it now is and the name it replaced. It reads the row afresh (not the cached
// copy) and updates it only if the column still holds what was read, retrying
// otherwise: of concurrent changes, each learns exactly the name it replaced,
// so every replaced file is deleted once. One statement per step, so it works
// the same on SQLite and Postgres without row locks.
func (h *handlers) swapAvatar(ctx context.Context, id uuid.UUID, name string) (*User, string, error) {
	for range maxSwapAttempts {
		u := new(User)
		if err := h.p.DB.NewSelect().Model(u).Where("id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, "", errUserGone
			}
			return nil, "", fmt.Errorf("users: avatar: load user %s: %w", id, err)
		}
		old := u.Avatar
		if old == name {
			return u, "", nil
		}
		res, err := h.p.DB.NewUpdate().Model((*User)(nil)).
			Set("avatar = ?", name).
			Where("id = ?", id).
			Where("avatar = ?", old).
			Exec(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("users: avatar: update user %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, "", fmt.Errorf("users: avatar: update user %s: %w", id, err)
		}
		if n == 1 {
			u.Avatar = name
			return u, old, nil
		}
		// Changed (or deleted) since the read: look again.
	}
	return nil, "", fmt.Errorf("users: avatar: user %s kept changing, gave up after %d attempts", id, maxSwapAttempts)
}

// deleteFile deletes a stored file that no row names any more, logging a
// failure (the file is then an orphan, harmless but to be cleaned up).
func (h *handlers) deleteFile(ctx context.Context, c *fiber.Ctx, name string) {
	if err := h.p.Storage.Delete(ctx, name); err != nil {
		h.p.Log.Warn("users: avatar: delete file, left orphaned", "name", name,
			"request_id", api.RequestIDOf(c), "error", err)
	}
}

// storageError maps errors of image validation and storage to the API's.
func (h *handlers) storageError(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, storage.ErrNotImage), errors.Is(err, storage.ErrInvalidImage):
		return api.Validation(api.FieldErr(avatarField, msgInvalidImage)).WithCause(err)
	case errors.Is(err, storage.ErrTooLarge):
		return api.PayloadTooLarge(int64(h.p.Settings.MaxUploadSize)).WithCause(err)
	case errors.Is(err, storage.ErrUnavailable):
		h.p.Log.Warn("users: avatar: media storage unavailable", "request_id", api.RequestIDOf(c), "error", err)
		return api.Unavailable(api.FieldErr("storage", msgStorageUnavailable)).WithCause(err)
	}
	return fmt.Errorf("users: avatar: %w", err)
}

// avatarURL is the absolute URL of the user's avatar, or nil when there is
// none. A storage error is logged and gives nil rather than failing the
// request that shows the user.
func (h *handlers) avatarURL(c *fiber.Ctx, u *User) *string {
	if u.Avatar == "" {
		return nil
	}
	url, err := h.p.MediaURL(c.UserContext(), u.Avatar)
	if err != nil || url == "" {
		h.p.Log.Warn("users: avatar URL", "user", u.ID, "name", u.Avatar,
			"request_id", api.RequestIDOf(c), "error", err)
		return nil
	}
	return &url
}
