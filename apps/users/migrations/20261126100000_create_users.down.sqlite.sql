DROP TABLE users_tokens;
DROP TABLE users;
