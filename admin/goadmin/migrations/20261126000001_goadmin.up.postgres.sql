-- GoAdmin's own tables, from the dump shipped in go-admin v1.2.26 (data/admin.pgsql loaded into a scratch
-- database, then `pg_dump --inserts --no-owner --no-privileges`). Changes from the dump: no psql
-- meta-commands (the restrict/unrestrict lines), no SET lines and no set_config('search_path', '', false) (it empties the
-- search_path of a pooled connection), no "public." prefix, so the tables land in the connection's schema,
-- the seeded admin/operator accounts and every row tied to them (goadmin_role_users,
-- goadmin_user_permissions, and junk rows with role/user id 0) removed: staff log in with their users-app
-- account and the admin package mirrors them into goadmin_users, role 2 "Operator" renamed "Staff" (staff
-- who are not superusers), the menu reduced to the dashboard and the operation log, two indexes added for
-- the lookups made on every request (session by sid, mirrored user by username), and the operation log's
-- ip column widened from 15 to 64 characters (an IPv6 address does not fit in 15).

CREATE SEQUENCE goadmin_menu_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_menu (
    id integer DEFAULT nextval('goadmin_menu_myid_seq'::regclass) NOT NULL,
    parent_id integer DEFAULT 0 NOT NULL,
    type integer DEFAULT 0,
    "order" integer DEFAULT 0 NOT NULL,
    title character varying(50) NOT NULL,
    header character varying(100),
    plugin_name character varying(100) NOT NULL,
    icon character varying(50) NOT NULL,
    uri character varying(3000) NOT NULL,
    uuid character varying(100),
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_operation_log_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_operation_log (
    id integer DEFAULT nextval('goadmin_operation_log_myid_seq'::regclass) NOT NULL,
    user_id integer NOT NULL,
    path character varying(255) NOT NULL,
    method character varying(10) NOT NULL,
    ip character varying(64) NOT NULL,
    input text NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_permissions_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_permissions (
    id integer DEFAULT nextval('goadmin_permissions_myid_seq'::regclass) NOT NULL,
    name character varying(50) NOT NULL,
    slug character varying(50) NOT NULL,
    http_method character varying(255),
    http_path text NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE TABLE goadmin_role_menu (
    role_id integer NOT NULL,
    menu_id integer NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE TABLE goadmin_role_permissions (
    role_id integer NOT NULL,
    permission_id integer NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE TABLE goadmin_role_users (
    role_id integer NOT NULL,
    user_id integer NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_roles_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_roles (
    id integer DEFAULT nextval('goadmin_roles_myid_seq'::regclass) NOT NULL,
    name character varying NOT NULL,
    slug character varying NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_session_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_session (
    id integer DEFAULT nextval('goadmin_session_myid_seq'::regclass) NOT NULL,
    sid character varying(50) NOT NULL,
    "values" character varying(3000) NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_site_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_site (
    id integer DEFAULT nextval('goadmin_site_myid_seq'::regclass) NOT NULL,
    key character varying(100) NOT NULL,
    value text NOT NULL,
    type integer DEFAULT 0,
    description character varying(3000),
    state integer DEFAULT 0,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE TABLE goadmin_user_permissions (
    user_id integer NOT NULL,
    permission_id integer NOT NULL,
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

CREATE SEQUENCE goadmin_users_myid_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    MAXVALUE 99999999
    CACHE 1;

CREATE TABLE goadmin_users (
    id integer DEFAULT nextval('goadmin_users_myid_seq'::regclass) NOT NULL,
    username character varying(100) NOT NULL,
    password character varying(100) NOT NULL,
    name character varying(100) NOT NULL,
    avatar character varying(255),
    remember_token character varying(100),
    created_at timestamp without time zone DEFAULT now(),
    updated_at timestamp without time zone DEFAULT now()
);

INSERT INTO goadmin_menu VALUES (1, 0, 1, 1, 'Dashboard', NULL, '', 'fa-bar-chart', '/', NULL, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_menu VALUES (2, 0, 1, 100, 'Admin', NULL, '', 'fa-tasks', '', NULL, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_menu VALUES (3, 2, 1, 1, 'Operation log', NULL, '', 'fa-history', '/info/op', NULL, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES (1, 1, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES (1, 2, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES (1, 3, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_menu VALUES (2, 1, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_permissions VALUES (1, 'All permission', '*', '', '*', '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_permissions VALUES (2, 'Dashboard', 'dashboard', 'GET,PUT,POST,DELETE', '/', '2019-09-10 00:00:00', '2019-09-10 00:00:00');

INSERT INTO goadmin_role_permissions VALUES (1, 1, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_permissions VALUES (1, 2, '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_role_permissions VALUES (2, 2, '2019-09-10 00:00:00', '2019-09-10 00:00:00');

INSERT INTO goadmin_roles VALUES (1, 'Administrator', 'administrator', '2019-09-10 00:00:00', '2019-09-10 00:00:00');
INSERT INTO goadmin_roles VALUES (2, 'Staff', 'staff', '2019-09-10 00:00:00', '2019-09-10 00:00:00');

SELECT pg_catalog.setval('goadmin_menu_myid_seq', 3, true);

SELECT pg_catalog.setval('goadmin_operation_log_myid_seq', 1, false);

SELECT pg_catalog.setval('goadmin_permissions_myid_seq', 2, true);

SELECT pg_catalog.setval('goadmin_roles_myid_seq', 2, true);

SELECT pg_catalog.setval('goadmin_session_myid_seq', 1, false);

SELECT pg_catalog.setval('goadmin_site_myid_seq', 1, false);

SELECT pg_catalog.setval('goadmin_users_myid_seq', 1, false);

ALTER TABLE ONLY goadmin_menu
    ADD CONSTRAINT goadmin_menu_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_operation_log
    ADD CONSTRAINT goadmin_operation_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_permissions
    ADD CONSTRAINT goadmin_permissions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_roles
    ADD CONSTRAINT goadmin_roles_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_session
    ADD CONSTRAINT goadmin_session_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_site
    ADD CONSTRAINT goadmin_site_pkey PRIMARY KEY (id);

ALTER TABLE ONLY goadmin_users
    ADD CONSTRAINT goadmin_users_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX goadmin_users_username_key ON goadmin_users (username);
CREATE INDEX goadmin_session_sid_idx ON goadmin_session (sid);
