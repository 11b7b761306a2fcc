-- +goose Up
CREATE TABLE customers (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_no VARCHAR(128) NOT NULL,
    created_at  BIGINT       NOT NULL,
    UNIQUE KEY customers_no (customer_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every identifier of a customer or anonymous visitor (phone numbers as
-- keyed hashes). cluster_id is the id of the cluster's root identifier: a
-- persisted union-find, merged by re-pointing the smaller root.
CREATE TABLE customer_identifiers (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind       VARCHAR(16)  NOT NULL,
    value      VARCHAR(255) NOT NULL,
    cluster_id BIGINT       NOT NULL,
    created_at BIGINT       NOT NULL,
    UNIQUE KEY customer_identifiers_kv (kind, value),
    KEY customer_identifiers_cluster (cluster_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identity_links (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    a_id       BIGINT      NOT NULL,
    b_id       BIGINT      NOT NULL,
    source     VARCHAR(64) NOT NULL,
    created_at BIGINT      NOT NULL,
    UNIQUE KEY identity_links_pair (a_id, b_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE identity_links;
DROP TABLE customer_identifiers;
DROP TABLE customers;
