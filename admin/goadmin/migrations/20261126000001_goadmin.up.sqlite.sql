-- GoAdmin's own tables, from the dump shipped in go-admin v1.2.26 (data/admin.db, `sqlite3 admin.db .dump`).
-- Changes from the dump: no BEGIN/COMMIT/PRAGMA (the runner wraps the file in a transaction), backticks
-- turned into standard double quotes, the seeded admin/operator accounts and every row tied to them
-- (goadmin_role_users, goadmin_user_permissions) removed: staff log in with their users-app account and
-- the admin package mirrors them into goadmin_users on login, role 2 "Operator" renamed "Staff" (the role
-- given to staff who are not superusers), the menu reduced to the dashboard and the operation log (GoAdmin's
-- own user/role/permission/menu editors are not used: roles follow is_staff/is_superuser), two indexes added
-- for the lookups made on every request (session by sid, mirrored user by username), and the operation
-- log's ip column widened from 15 to 64 characters (an IPv6 address does not fit in 15).

CREATE TABLE IF NOT EXISTS "goadmin_role_permissions" (
  "role_id" INT NOT NULL,
  "permission_id" INT NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
INSERT INTO goadmin_role_permissions VALUES(1,1,'2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_role_permissions VALUES(1,2,'2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_role_permissions VALUES(2,2,'2019-09-10 00:00:00','2019-09-10 00:00:00');

CREATE TABLE IF NOT EXISTS "goadmin_user_permissions" (
  "user_id" INT NOT NULL,
  "permission_id" INT NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS "goadmin_operation_log" (
  "id" integer PRIMARY KEY autoincrement,
  "user_id" INT NOT NULL,
  "path" CHAR(255) COLLATE NOCASE NOT NULL,
  "method" CHAR(10) COLLATE NOCASE NOT NULL,
  "ip" CHAR(64) COLLATE NOCASE NOT NULL,
  "input" text COLLATE NOCASE NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS "goadmin_role_users" (
  "role_id" INT NOT NULL,
  "user_id" INT NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS "goadmin_users" (
  "id" integer PRIMARY KEY autoincrement,
  "username" CHAR(190) COLLATE NOCASE NOT NULL,
  "password" CHAR(80) COLLATE NOCASE NOT NULL DEFAULT '',
  "name" CHAR(255) COLLATE NOCASE NOT NULL,
  "avatar" CHAR(255) COLLATE NOCASE DEFAULT NULL,
  "remember_token" CHAR(100) COLLATE NOCASE DEFAULT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX IF NOT EXISTS goadmin_users_username_key ON goadmin_users (username);

CREATE TABLE IF NOT EXISTS "goadmin_permissions" (
  "id" integer PRIMARY KEY autoincrement,
  "name" CHAR(50) COLLATE NOCASE NOT NULL,
  "slug" CHAR(50) COLLATE NOCASE NOT NULL,
  "http_method" CHAR(255) COLLATE NOCASE DEFAULT NULL,
  "http_path" text COLLATE NOCASE,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
INSERT INTO goadmin_permissions VALUES(1,'All permission','*','','*','2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_permissions VALUES(2,'Dashboard','dashboard','GET,PUT,POST,DELETE','/','2019-09-10 00:00:00','2019-09-10 00:00:00');

CREATE TABLE IF NOT EXISTS "goadmin_roles" (
  "id" integer PRIMARY KEY autoincrement,
  "name" CHAR(50) COLLATE NOCASE NOT NULL,
  "slug" CHAR(50) COLLATE NOCASE NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
INSERT INTO goadmin_roles VALUES(1,'Administrator','administrator','2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_roles VALUES(2,'Staff','staff','2019-09-10 00:00:00','2019-09-10 00:00:00');

CREATE TABLE IF NOT EXISTS "goadmin_role_menu" (
  "role_id" INT NOT NULL,
  "menu_id" INT NOT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
INSERT INTO goadmin_role_menu VALUES(1,1,'2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES(1,2,'2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES(1,3,'2019-09-10 00:00:00','2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES(2,1,'2019-09-10 00:00:00','2019-09-10 00:00:00');

CREATE TABLE IF NOT EXISTS "goadmin_session" (
  "id" integer PRIMARY KEY autoincrement,
  "sid" CHAR(50) DEFAULT NULL,
  "values" CHAR(3000) DEFAULT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS goadmin_session_sid_idx ON goadmin_session (sid);

CREATE TABLE IF NOT EXISTS "goadmin_menu" (
  "id" integer PRIMARY KEY autoincrement,
  "parent_id" INT NOT NULL DEFAULT '0',
  "order" INT NOT NULL DEFAULT '0',
  "type" INT NOT NULL DEFAULT '0',
  "title" CHAR(50) COLLATE NOCASE NOT NULL,
  "icon" CHAR(50) COLLATE NOCASE NOT NULL,
  "uri" CHAR(3000) COLLATE NOCASE DEFAULT NULL,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "header" CHAR(150) DEFAULT NULL,
  "plugin_name" CHAR(150) NOT NULL DEFAULT '',
  "uuid" CHAR(100) COLLATE NOCASE DEFAULT NULL
);
INSERT INTO goadmin_menu VALUES(1,0,1,1,'Dashboard','fa-bar-chart','/','2019-09-10 00:00:00','2019-09-10 00:00:00',NULL,'',NULL);
INSERT INTO goadmin_menu VALUES(2,0,100,1,'Admin','fa-tasks','','2019-09-10 00:00:00','2019-09-10 00:00:00',NULL,'',NULL);
INSERT INTO goadmin_menu VALUES(3,2,1,1,'Operation log','fa-history','/info/op','2019-09-10 00:00:00','2019-09-10 00:00:00',NULL,'',NULL);

CREATE TABLE IF NOT EXISTS "goadmin_site" (
  "id" integer PRIMARY KEY autoincrement,
  "key" CHAR(100) COLLATE NOCASE NOT NULL,
  "value" text COLLATE NOCASE NOT NULL,
  "state" INT NOT NULL DEFAULT '0',
  "description" CHAR(3000) COLLATE NOCASE,
  "created_at" TIMESTAMP default CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP default CURRENT_TIMESTAMP
);
