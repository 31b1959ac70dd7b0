-- CDC project: the source tables in RDS MySQL (run by the cdc_project DAG's prepare_source task).
-- Idempotent: a rerun keeps the tables and their rows. Every table has a primary key (DMS needs
-- one to capture updates and deletes). utf8mb4 everywhere: names and notes hold any Unicode text.
CREATE DATABASE IF NOT EXISTS movielens CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS movielens.movies (
    movieId INT NOT NULL PRIMARY KEY,
    title VARCHAR(512) NULL,  -- five MovieLens movies have no title and no year
    year SMALLINT NULL,
    genres VARCHAR(255) NOT NULL
);

CREATE TABLE IF NOT EXISTS movielens.ratings (
    userId INT NOT NULL,
    movieId INT NOT NULL,
    rating DECIMAL(2,1) NOT NULL,
    `timestamp` BIGINT NOT NULL,  -- epoch seconds, as MovieLens ships it
    PRIMARY KEY (userId, movieId)
);

CREATE TABLE IF NOT EXISTS shop.customers (
    id INT NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(255) NULL,
    tier ENUM('bronze', 'silver', 'gold') NOT NULL,
    balance DECIMAL(12,2) NOT NULL,
    signed_up_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NULL,
    preferences JSON NULL,
    notes TEXT NULL
);
