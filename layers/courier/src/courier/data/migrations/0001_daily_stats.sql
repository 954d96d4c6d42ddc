-- The daily stats history: one row per day, written by the stats batch's publish step.
-- Portable: MySQL 8.0 (Aurora MySQL 3) and MariaDB 10.11 run it alike (JSON is a checked
-- LONGTEXT on MariaDB, a native type on MySQL; utf8mb4_unicode_ci exists on both, while
-- MySQL's default utf8mb4_0900_ai_ci does not exist on MariaDB 10.11).
CREATE TABLE daily_stats (
    day DATE NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    sms_jobs BIGINT UNSIGNED NOT NULL,
    sms_delivered BIGINT UNSIGNED NOT NULL,
    sms_failed BIGINT UNSIGNED NOT NULL,
    sms_sent BIGINT UNSIGNED NOT NULL,
    sms_parts BIGINT UNSIGNED NOT NULL,
    sms_parts_sent_or_delivered BIGINT UNSIGNED NOT NULL,
    sms_bulk BIGINT UNSIGNED NOT NULL,
    sms_transactional BIGINT UNSIGNED NOT NULL,
    chat_messages BIGINT UNSIGNED NOT NULL,
    chat_active_users BIGINT UNSIGNED NOT NULL,
    chat_active_rooms BIGINT UNSIGNED NOT NULL,
    -- The day's breakdowns (statuses, failure reasons, hours, top rooms) without `by_room`,
    -- which can be large; the full report stays in S3 at report_uri.
    details JSON NOT NULL,
    report_uri VARCHAR(1024) NOT NULL DEFAULT '',
    updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (day)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
