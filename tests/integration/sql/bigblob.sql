-- bigblob: rows with 16 MiB LONGBLOB values, to test that backup and restore
-- stream big values with bounded memory. Needs max_allowed_packet >= 64M on
-- the server (mdb_start sets it) and on the client (16 MiB values are 32 MiB
-- as hex in a dump); the mariadb client gets it from the mdb_start .cnf.
SET sql_mode = '';
SET NAMES utf8mb4;
SET SESSION group_concat_max_len = 67108864;

DROP DATABASE IF EXISTS bigblob;
CREATE DATABASE bigblob;
USE bigblob;

CREATE TABLE blobs (
  id    INT NOT NULL PRIMARY KEY,
  kind  VARCHAR(20) NOT NULL,
  data  LONGBLOB,
  len   BIGINT AS (LENGTH(data)) PERSISTENT,
  sha   CHAR(64) AS (SHA2(data, 256)) PERSISTENT
) ENGINE=InnoDB;

-- 1: 16 MiB of random bytes (incompressible; every byte value, so plenty of
--    0x00 0x09 0x0A 0x0D 0x5C that need escaping in TSV)
INSERT INTO blobs (id, kind, data)
  SELECT 1, 'random', GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM seq_1_to_16384;

-- 2: 16 MiB made only of bytes that need escaping (worst case: doubles in TSV)
INSERT INTO blobs (id, kind, data) VALUES (2, 'escapes', REPEAT(X'005C0A090D5C4E00', 2097152));

-- 3: 16 MiB of text, very compressible
INSERT INTO blobs (id, kind, data) VALUES (3, 'text', REPEAT('0123456789abcdef', 1048576));

-- 4, 5: small neighbours, so a chunker sees mixed row sizes
INSERT INTO blobs (id, kind, data) VALUES (4, 'empty', ''), (5, 'null', NULL);
