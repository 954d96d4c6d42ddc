-- Admin bulk SMS campaigns: one row per campaign (template, state, who and when), the summary
-- of its validated audience, and the launch's progress mark (the launcher resumes after
-- last_row_queued). Portable like 0001: MySQL 8.0 (Aurora MySQL 3) and MariaDB 10.11. Times are
-- UTC DATETIME(3) written by the application.
CREATE TABLE campaigns (
    id CHAR(32) NOT NULL,
    name VARCHAR(200) NOT NULL,
    template TEXT NOT NULL,
    state VARCHAR(16) NOT NULL,
    created_by_sub VARCHAR(128) NOT NULL,
    created_by_username VARCHAR(128) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    launch_at DATETIME(3) NULL,
    launched_at DATETIME(3) NULL,
    finished_at DATETIME(3) NULL,
    cancelled_at DATETIME(3) NULL,
    audience_summary JSON NULL,
    chunks_queued INT UNSIGNED NOT NULL DEFAULT 0,
    jobs_queued INT UNSIGNED NOT NULL DEFAULT 0,
    last_row_queued INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY campaigns_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
