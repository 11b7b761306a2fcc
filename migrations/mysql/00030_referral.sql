-- +goose Up
-- Invitation codes: one active code per staff member per campaign
-- (campaign_id 0 is the general code). active_key is "staff:campaign" while
-- the code is active and NULL once revoked, so the unique index allows one
-- active code and any number of revoked ones (history stays).
CREATE TABLE referral_codes (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code        CHAR(8)     NOT NULL,
    staff_id    BIGINT      NOT NULL,
    campaign_id BIGINT      NOT NULL DEFAULT 0,
    active_key  VARCHAR(64) NULL,
    created_at  BIGINT      NOT NULL,
    revoked_at  BIGINT      NULL,
    revoked_by  VARCHAR(128) NOT NULL DEFAULT '',
    UNIQUE KEY referral_codes_code (code),
    UNIQUE KEY referral_codes_active (active_key),
    KEY referral_codes_staff (staff_id, campaign_id),
    CONSTRAINT referral_codes_staff_fk FOREIGN KEY (staff_id) REFERENCES staff(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every share-link click, counted or not. click_id is the random id carried
-- in the referral token; day is the click's calendar day in the campaign's
-- timezone (for per-day statistics without time-zone arithmetic in SQL).
CREATE TABLE referral_clicks (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    click_id    CHAR(16)      NOT NULL,
    at          BIGINT        NOT NULL,
    day         CHAR(10)      NOT NULL,
    code_id     BIGINT        NOT NULL,
    code        CHAR(8)       NOT NULL,
    staff_id    BIGINT        NOT NULL,
    campaign_id BIGINT        NOT NULL,
    channel     VARCHAR(32)   NOT NULL,
    visitor_id  VARCHAR(32)   NOT NULL,
    ip_hash     CHAR(64)      NOT NULL,
    user_agent  VARCHAR(512)  NOT NULL DEFAULT '',
    referer     VARCHAR(1024) NOT NULL DEFAULT '',
    bot         TINYINT       NOT NULL DEFAULT 0,
    is_unique   TINYINT       NOT NULL DEFAULT 0,
    counted     TINYINT       NOT NULL DEFAULT 0,
    reason      VARCHAR(32)   NOT NULL DEFAULT '',
    UNIQUE KEY referral_clicks_click (click_id),
    KEY referral_clicks_staff (staff_id, campaign_id, day),
    KEY referral_clicks_visitor (code_id, visitor_id, at),
    KEY referral_clicks_ip (ip_hash, code_id, at),
    KEY referral_clicks_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Share events reported by the staff H5 page.
CREATE TABLE referral_shares (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id    BIGINT      NOT NULL,
    campaign_id BIGINT      NOT NULL,
    channel     VARCHAR(32) NOT NULL,
    at          BIGINT      NOT NULL,
    day         CHAR(10)    NOT NULL,
    KEY referral_shares_staff (staff_id, campaign_id, day),
    CONSTRAINT referral_shares_staff_fk FOREIGN KEY (staff_id) REFERENCES staff(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Visitor ids seen on a staff member's own signed-in session: their clicks
-- on their own links are self-clicks.
CREATE TABLE referral_staff_visitors (
    visitor_id  VARCHAR(32) NOT NULL,
    staff_id    BIGINT      NOT NULL,
    first_seen  BIGINT      NOT NULL,
    PRIMARY KEY (visitor_id, staff_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE referral_staff_visitors;
DROP TABLE referral_shares;
DROP TABLE referral_clicks;
DROP TABLE referral_codes;
