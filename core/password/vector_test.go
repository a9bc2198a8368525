package password_test

// djangoVector is base64(pbkdf2_hmac("sha256", "correct horse", "seasalt", 260000)) from Python.
const djangoVector = "htpQDYdyy5MZ7bxS8mQJ0sjrWSVIvZJLEHJYe2DWsYQ="
