-- A campaign's audience: one row per CSV data row (row_no from 1), with its check's outcome.
-- `variables` holds only the template's variables (JSON object); `parts` the rendered message's
-- SMS parts. The launcher reads valid rows in row order after its mark (the primary key).
-- `row_number` is a reserved word in MySQL 8.0, hence row_no.
CREATE TABLE campaign_recipients (
    campaign_id CHAR(32) NOT NULL,
    row_no INT UNSIGNED NOT NULL,
    phone VARCHAR(32) NOT NULL,
    variables JSON NOT NULL,
    status VARCHAR(16) NOT NULL,
    error_code VARCHAR(32) NULL,
    error VARCHAR(255) NULL,
    parts TINYINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, row_no)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
