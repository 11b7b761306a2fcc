-- +goose Up
-- Invitation codes: one active code per staff member per campaign
-- (campaign_id 0 is the general code). active_key is "staff:campaign" while
-- the code is active and NULL once revoked, so the unique index allows one
-- active code and any number of revoked ones (history stays).
CREATE TABLE referral_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT    NOT NULL,
    staff_id    INTEGER NOT NULL REFERENCES staff(id),
    campaign_id INTEGER NOT NULL DEFAULT 0,
    active_key  TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    revoked_by  TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX referral_codes_code ON referral_codes(code);
CREATE UNIQUE INDEX referral_codes_active ON referral_codes(active_key);
CREATE INDEX referral_codes_staff ON referral_codes(staff_id, campaign_id);

-- Every share-link click, counted or not. click_id is the random id carried
-- in the referral token; day is the click's calendar day in the campaign's
-- timezone (for per-day statistics without time-zone arithmetic in SQL).
CREATE TABLE referral_clicks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    click_id    TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    day         TEXT    NOT NULL,
    code_id     INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    staff_id    INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    visitor_id  TEXT    NOT NULL,
    ip_hash     TEXT    NOT NULL,
    user_agent  TEXT    NOT NULL DEFAULT '',
    referer     TEXT    NOT NULL DEFAULT '',
    bot         INTEGER NOT NULL DEFAULT 0,
    is_unique   INTEGER NOT NULL DEFAULT 0,
    counted     INTEGER NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX referral_clicks_click ON referral_clicks(click_id);
CREATE INDEX referral_clicks_staff ON referral_clicks(staff_id, campaign_id, day);
CREATE INDEX referral_clicks_visitor ON referral_clicks(code_id, visitor_id, at);
CREATE INDEX referral_clicks_ip ON referral_clicks(ip_hash, code_id, at);
CREATE INDEX referral_clicks_at ON referral_clicks(at);

-- Share events reported by the staff H5 page.
CREATE TABLE referral_shares (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    INTEGER NOT NULL REFERENCES staff(id),
    campaign_id INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    day         TEXT    NOT NULL
);
CREATE INDEX referral_shares_staff ON referral_shares(staff_id, campaign_id, day);

-- Visitor ids seen on a staff member's own signed-in session: their clicks
-- on their own links are self-clicks.
CREATE TABLE referral_staff_visitors (
    visitor_id  TEXT    NOT NULL,
    staff_id    INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (visitor_id, staff_id)
);

-- +goose Down
DROP TABLE referral_staff_visitors;
DROP TABLE referral_shares;
DROP TABLE referral_clicks;
DROP TABLE referral_codes;
