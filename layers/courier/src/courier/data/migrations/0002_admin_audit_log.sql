-- The admin audit log: one row per admin action (who, what, on what, before and after), never
-- updated or deleted by the application. Portable like 0001: MySQL 8.0 (Aurora MySQL 3) and
-- MariaDB 10.11 (JSON is a checked LONGTEXT there). `occurred_at` is UTC with milliseconds,
-- written by the application: DATETIME, not TIMESTAMP, so no session time zone converts it.
-- Pages are read newest first by (occurred_at, id) (keyset pagination); the secondary indexes
-- end in the primary key (InnoDB), so each filter walks its index in that order.
CREATE TABLE admin_audit_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    occurred_at DATETIME(3) NOT NULL,
    actor_sub VARCHAR(128) NOT NULL,
    actor_username VARCHAR(128) NOT NULL,
    action VARCHAR(64) NOT NULL,
    target VARCHAR(512) NOT NULL DEFAULT '',
    before_state JSON NULL,
    after_state JSON NULL,
    request_id VARCHAR(128) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    KEY admin_audit_log_occurred_at (occurred_at),
    KEY admin_audit_log_actor_sub (actor_sub, occurred_at),
    KEY admin_audit_log_actor_username (actor_username, occurred_at),
    KEY admin_audit_log_action (action, occurred_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
