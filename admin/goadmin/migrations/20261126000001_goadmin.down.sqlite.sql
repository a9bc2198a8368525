-- Removes GoAdmin's tables (see the .up file).
DROP TABLE IF EXISTS goadmin_site;
DROP TABLE IF EXISTS goadmin_menu;
DROP TABLE IF EXISTS goadmin_session;
DROP TABLE IF EXISTS goadmin_role_menu;
DROP TABLE IF EXISTS goadmin_roles;
DROP TABLE IF EXISTS goadmin_permissions;
DROP TABLE IF EXISTS goadmin_users;
DROP TABLE IF EXISTS goadmin_role_users;
DROP TABLE IF EXISTS goadmin_operation_log;
DROP TABLE IF EXISTS goadmin_user_permissions;
DROP TABLE IF EXISTS goadmin_role_permissions;
