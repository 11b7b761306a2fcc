-- +goose Up
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_no TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX customers_no ON customers(customer_no);

-- Every identifier of a customer or anonymous visitor (phone numbers as
-- keyed hashes). cluster_id is the id of the cluster's root identifier: a
-- persisted union-find, merged by re-pointing the smaller root.
CREATE TABLE customer_identifiers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    cluster_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX customer_identifiers_kv ON customer_identifiers(kind, value);
CREATE INDEX customer_identifiers_cluster ON customer_identifiers(cluster_id);

CREATE TABLE identity_links (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    a_id       INTEGER NOT NULL,
    b_id       INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX identity_links_pair ON identity_links(a_id, b_id);

-- +goose Down
DROP TABLE identity_links;
DROP TABLE customer_identifiers;
DROP TABLE customers;
