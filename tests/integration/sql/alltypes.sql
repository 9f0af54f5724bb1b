-- alltypes: every MariaDB column type and schema object kind, with edge
-- values, for backup/restore round-trip tests (compare with checksum_all and
-- show_create_all from tests/integration/lib.sh).
-- Load with the mariadb client (uses DELIMITER); needs the sequence engine
-- (built in) and max_allowed_packet >= 16M.
SET sql_mode = '';
SET NAMES utf8mb4;
SET time_zone = '+00:00';
SET foreign_key_checks = 1;

DROP DATABASE IF EXISTS alltypes;
CREATE DATABASE alltypes CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE alltypes;

-- ------------------------------------------------------------ integers --
CREATE TABLE ints (
  id   INT NOT NULL PRIMARY KEY,
  ti   TINYINT,
  tiu  TINYINT UNSIGNED,
  si   SMALLINT,
  siu  SMALLINT UNSIGNED,
  mi   MEDIUMINT,
  miu  MEDIUMINT UNSIGNED,
  i    INT,
  iu   INT UNSIGNED,
  bi   BIGINT,
  biu  BIGINT UNSIGNED,
  bo   BOOL,
  zf   INT(8) UNSIGNED ZEROFILL
) ENGINE=InnoDB;
INSERT INTO ints VALUES
 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0, 0),
 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 1, 99999999),
 (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
 (4, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 12345),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ------------------------------------------------------------ decimals --
CREATE TABLE decimals (
  id   INT NOT NULL PRIMARY KEY,
  d52  DECIMAL(5,2),
  d2010 DECIMAL(20,10),
  d6530 DECIMAL(65,30),
  d60  DECIMAL(6,0) UNSIGNED
) ENGINE=InnoDB;
INSERT INTO decimals VALUES
 (1, -999.99, -9999999999.9999999999, -99999999999999999999999999999999999.999999999999999999999999999999, 0),
 (2, 999.99, 9999999999.9999999999, 99999999999999999999999999999999999.999999999999999999999999999999, 999999),
 (3, 0.00, 0.0000000000, 0.000000000000000000000000000000, 0),
 (4, -0.01, 0.0000000001, 0.000000000000000000000000000001, 1),
 (5, 123.45, -1234567890.0123456789, 3.141592653589793238462643383279502884197169399375105820974944, 42),
 (6, NULL, NULL, NULL, NULL);

-- -------------------------------------------------------------- floats --
CREATE TABLE floats (
  id  INT NOT NULL PRIMARY KEY,
  f   FLOAT,
  d   DOUBLE,
  fm  FLOAT(7,3),
  dm  DOUBLE(12,4)
) ENGINE=InnoDB;
INSERT INTO floats VALUES
 (1, 0.1, 0.1, 1.5, 1.5),
 (2, 3.4028234e38, 1.7976931348623157e308, 9999.999, 99999999.9999),
 (3, -3.4028234e38, -1.7976931348623157e308, -9999.999, -99999999.9999),
 (4, 1.17549435e-38, 2.2250738585072014e-308, 0.001, 0.0001),
 (5, 1e-30, 1e-300, 0, 0),
 (6, -0.0, -0.0, -0.0, -0.0),
 (7, 1.0000001, 0.30000000000000004, 1.234, 1.2345),
 (8, 16777217, 9007199254740993, -1.001, -1.0001),
 (9, 3.14159265, 2.718281828459045, 3.142, 2.7183),
 (10, 1.401298464e-45, 4.9406564584124654e-324, 0, 0),
 (11, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------- bits --
CREATE TABLE bits (
  id  INT NOT NULL PRIMARY KEY,
  b1  BIT(1),
  b7  BIT(7),
  b64 BIT(64)
) ENGINE=InnoDB;
INSERT INTO bits VALUES
 (1, b'0', b'0000000', 0),
 (2, b'1', b'1111111', 0xFFFFFFFFFFFFFFFF),
 (3, b'1', b'1010101', 0x8000000000000000),
 (4, b'0', b'0001001', 0x0A0D5C00090A0D5C),
 (5, NULL, NULL, NULL);

-- ------------------------------------------------------------ temporal --
CREATE TABLE temporal (
  id    INT NOT NULL PRIMARY KEY,
  dt0   DATE,
  t0    TIME,
  t1    TIME(1),
  t3    TIME(3),
  t6    TIME(6),
  dtm0  DATETIME,
  dtm1  DATETIME(1),
  dtm2  DATETIME(2),
  dtm3  DATETIME(3),
  dtm4  DATETIME(4),
  dtm5  DATETIME(5),
  dtm6  DATETIME(6),
  ts0   TIMESTAMP NULL DEFAULT NULL,
  ts3   TIMESTAMP(3) NULL DEFAULT NULL,
  ts6   TIMESTAMP(6) NULL DEFAULT NULL,
  y     YEAR
) ENGINE=InnoDB;
INSERT INTO temporal VALUES
 (1, '0000-00-00', '00:00:00', '00:00:00.0', '00:00:00.000', '00:00:00.000000',
     '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', '0000-00-00 00:00:00.00',
     '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.0000', '0000-00-00 00:00:00.00000',
     '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000',
     '0000-00-00 00:00:00.000000', 0),
 (2, '1000-01-01', '-838:59:59', '-838:59:58.9', '-838:59:58.999', '-838:59:58.999999',
     '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', '1000-01-01 00:00:00.12',
     '1000-01-01 00:00:00.123', '1000-01-01 00:00:00.1234', '1000-01-01 00:00:00.12345',
     '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.001',
     '1970-01-01 00:00:01.000001', 1901),
 (3, '9999-12-31', '838:59:59', '838:59:58.9', '838:59:58.999', '838:59:58.999999',
     '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99',
     '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.99999',
     '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999',
     '2038-01-19 03:14:07.999999', 2155),
 (4, '2024-02-29', '-00:00:01', '-00:00:00.5', '12:34:56.789', '-00:00:00.000001',
     '2024-02-29 12:34:56', '2024-02-29 12:34:56.5', '2024-02-29 12:34:56.05',
     '2024-02-29 12:34:56.005', '2024-02-29 12:34:56.0005', '2024-02-29 12:34:56.00005',
     '2024-02-29 12:34:56.000005', '2024-03-31 01:30:00', '2024-10-27 01:30:00.500',
     '2024-10-27 02:30:00.123456', 2024),
 (5, '2020-00-00', '100:00:00', '01:02:03.4', '23:59:59.999', '-12:00:00.000001',
     '2020-01-00 00:00:00', '1999-12-31 23:59:59.9', '2000-01-01 00:00:00.01',
     '2000-02-30 00:00:00', '1582-10-10 10:10:10.1', '1970-01-01 00:00:00.00001',
     '1969-12-31 23:59:59.999999', '2000-01-01 00:00:00', '2000-01-01 00:00:00.1',
     '2000-01-01 00:00:00.000001', 70),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ------------------------------------------------------------- strings --
CREATE TABLE strings_utf8 (
  id  INT NOT NULL PRIMARY KEY,
  c   CHAR(10),
  vc  VARCHAR(255),
  vcb VARCHAR(64) COLLATE utf8mb4_bin,
  tt  TINYTEXT,
  t   TEXT,
  mt  MEDIUMTEXT,
  lt  LONGTEXT,
  asc_c VARCHAR(20) CHARACTER SET ascii,
  u3  VARCHAR(20) CHARACTER SET utf8mb3
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO strings_utf8 VALUES
 (1, 'abc', 'hello, world', 'Case', 'tiny', 'text', 'medium', 'long', 'plain', 'plain'),
 (2, '😀🎉', 'emoji 😀 🎉 👩‍👩‍👧 flags 🇫🇷 and CJK 漢字 かな 한국어', '😀', '🎉', 'Ünïcödé ß ø å æ œ ŀ', 'Ελληνικά Русский עברית العربية', 'mixed 😀 ascii', 'x', 'ñ€'),
 (3, 'tab	here', 'tab\there\nnewline\rcr\\backslash', 'a\\Nb', '\\N', 'NULL', 'null', '\\', 'q''uote', 'd"q'),
 (4, '', '', '', '', '', '', '', '', ''),
 (5, ' lead', 'trailing spaces   ', 'trail ', 'line1\nline2\n', '\n', '\r\n', '\t', ' ', ' '),
 (6, 'comma,x', 'semi;colon,comma "dq" ''sq'' `bt`', '%_*?', '\0 nul inside', CONCAT('ctrl', CHAR(1), CHAR(27), CHAR(127)), 'end\\', '\\\\', 'a,b', 'z'),
 (7, 'combining', 'é vs é', 'café', 'ﬁ ligature', 'zero​width', '\Z eof char', 'right-to-left ‮ mark', 'ok', 'ok'),
 (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE strings_utf8 SET mt = REPEAT('medium text 😀 ', 20000), lt = REPEAT(CONCAT('long text ', CHAR(10), 'Ω '), 80000) WHERE id = 1;

CREATE TABLE strings_latin1 (
  id  INT NOT NULL PRIMARY KEY,
  c   CHAR(20),
  vc  VARCHAR(100),
  t   TEXT,
  sw  VARCHAR(20) COLLATE latin1_swedish_ci,
  lb  VARCHAR(20) COLLATE latin1_bin
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
INSERT INTO strings_latin1 VALUES
 (1, 'àéîõü', 'Größe façade naïve coöperate déjà vu', 'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ', 'Åsa', 'ÿ'),
 (2, _latin1 X'E9', _latin1 X'A0A1A2A3A4A5A6A7A8A9AAABACADAEAF', _latin1 X'B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF', 'x', 'y'),
 (3, 'tab\t', 'back\\slash\nnew', '\\N', 'NULL', ''),
 (4, NULL, NULL, NULL, NULL, NULL);

-- -------------------------------------------------------------- binary --
CREATE TABLE binaries (
  id  INT NOT NULL PRIMARY KEY,
  bn  BINARY(8),
  vb  VARBINARY(300),
  tb  TINYBLOB,
  b   BLOB,
  mb  MEDIUMBLOB,
  lb  LONGBLOB
) ENGINE=InnoDB;
INSERT INTO binaries VALUES
 (1, X'00090A0D5CFF', X'00090A0D5CFF', X'00', X'00090A0D5CFF', X'FF', X'5C'),
 (2, '\\N', '\\N', '\\N', '\\N', '\\N', '\\N'),
 (3, 'NULL', 'NULL', 'NULL', 'NULL', 'NULL', 'NULL'),
 (4, '', '', '', '', '', ''),
 (5, X'0000000000000000', X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF',
     X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF',
     X'5C4E', X'5C5C4E0A', X'0D0A'),
 (6, 'trail\0\0', 'trail\0\0', X'0A', X'09', X'0D', X'5C5C'),
 (7, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE binaries SET mb = REPEAT(X'00090A0D5CFF4E', 100000), lb = REPEAT(X'FF005C0A', 500000) WHERE id = 1;

-- ------------------------------------------------------ enum, set, json --
CREATE TABLE enums_sets (
  id  INT NOT NULL PRIMARY KEY,
  -- (no 4-byte characters in ENUM/SET labels: the server stores labels in
  -- utf8mb3 and SHOW CREATE TABLE turns them into '?', so no logical backup
  -- can restore them)
  e   ENUM('a', 'b', 'c with space', 'd,comma', 'é', '漢字'),
  en  ENUM('x', 'y') NOT NULL,
  s   SET('x', 'y', 'z', 'w w'),
  j   JSON,
  jn  JSON NOT NULL DEFAULT '{}'
) ENGINE=InnoDB;
INSERT INTO enums_sets VALUES
 (1, 'a', 'x', 'x,z', '{"a": 1, "b": [1, 2, {"c": "d\\n\\t\\u0000"}], "e": null, "u": "😀", "q": "\\"quoted\\""}', '[]'),
 (2, 'c with space', 'y', '', 'null', '"just a string"'),
 (3, 'd,comma', 'x', 'x,y,z,w w', '[1.5e300, -0, 0.1, 18446744073709551616, true, false]', '{"nested": {"deeper": {"deepest": [[], {}]}}}'),
 (4, 'é', 'y', 'y', '"tab\\there"', '12345678901234567890'),
 (5, '漢字', 'x', 'w w', '{}', '{"k": "back\\\\slash", "nul": "\\\\N"}'),
 (6, 'not a member', 'x', 'x', '[]', '{}'),
 (7, NULL, 'x', NULL, NULL, '{}');

-- ------------------------------------------------------------ geometry --
CREATE TABLE geo (
  id  INT NOT NULL PRIMARY KEY,
  g   GEOMETRY,
  p   POINT,
  l   LINESTRING,
  pg  POLYGON,
  mp  MULTIPOINT,
  gc  GEOMETRYCOLLECTION,
  pn  POINT NOT NULL,
  SPATIAL KEY sp_pn (pn)
) ENGINE=InnoDB;
INSERT INTO geo VALUES
 (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-1.5 2.25)'),
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0.5)'),
     ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))'),
     ST_GeomFromText('MULTIPOINT(0 0, 1 1)'),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 2 2))'),
     ST_GeomFromText('POINT(0 0)')),
 (2, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326), ST_GeomFromText('POINT(13.4 52.5)', 4326),
     ST_GeomFromText('LINESTRING(1e-10 1e10, -180 -90)'), NULL, NULL, NULL,
     ST_GeomFromText('POINT(180 90)')),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, ST_GeomFromText('POINT(-0.000001 0.000001)'));

-- --------------------------------------------------- generated columns --
CREATE TABLE generated (
  id   INT NOT NULL PRIMARY KEY,
  a    INT,
  s    VARCHAR(20),
  gv   INT AS (a * 2) VIRTUAL,
  gs   VARCHAR(30) AS (CONCAT(s, '!')) PERSISTENT,
  gst  INT AS (a + 1) STORED,
  gvi  INT AS (a % 7) VIRTUAL,
  inv  INT INVISIBLE DEFAULT 7,
  KEY k_gvi (gvi)
) ENGINE=InnoDB;
INSERT INTO generated (id, a, s, inv) VALUES (1, 1, 'one', 1), (2, -5, 'two', 2), (3, NULL, NULL, NULL), (4, 2147483, 'ünï😀', 4);

-- -------------------------------------------------------------- keys --
-- no primary key (and duplicate rows)
CREATE TABLE nopk (
  a  INT,
  b  VARCHAR(20),
  c  DOUBLE
) ENGINE=InnoDB;
INSERT INTO nopk VALUES (1, 'dup', 1.5), (1, 'dup', 1.5), (2, NULL, NULL), (NULL, NULL, NULL), (NULL, NULL, NULL), (3, '\\N', 0);
INSERT INTO nopk SELECT seq % 97, CONCAT('r', seq), seq / 3 FROM seq_1_to_3000;

-- composite primary key
CREATE TABLE composite_pk (
  a  INT NOT NULL,
  b  VARCHAR(20) NOT NULL,
  c  DATETIME(3) NOT NULL,
  v  TEXT,
  PRIMARY KEY (a, b, c)
) ENGINE=InnoDB;
INSERT INTO composite_pk
  SELECT seq DIV 100, CONCAT('k', seq % 100), '2024-01-01 00:00:00.000' + INTERVAL seq SECOND, REPEAT('v', seq % 50)
  FROM seq_1_to_5000;
INSERT INTO composite_pk VALUES (-1, '', '0000-00-00 00:00:00', NULL), (2147483647, 'zzz 😀', '9999-12-31 23:59:59.999', 'max');

-- varchar primary key
CREATE TABLE varchar_pk (
  k  VARCHAR(100) NOT NULL PRIMARY KEY,
  v  INT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO varchar_pk SELECT CONCAT(MD5(seq), '-', seq), seq FROM seq_1_to_5000;
INSERT INTO varchar_pk VALUES ('', 0), (' leading space', -1), ('Ä umlaut', -2), ('😀 emoji', -3),
  ('tab\tkey', -4), ('new\nline', -5), ('back\\slash', -6), ('quote''s', -7), ('\\N', -8), ('NULL', -9),
  ('zzzz', -10), ('~~~~', -11), ('漢字', -12);

-- secondary and unique indexes, foreign keys, fulltext, check constraint
CREATE TABLE parent (
  id    INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code  VARCHAR(20) NOT NULL,
  name  VARCHAR(100) NOT NULL DEFAULT 'unnamed' COMMENT 'the ''name'' column',
  UNIQUE KEY uk_code (code)
) ENGINE=InnoDB COMMENT='parent table, with a "comment"';
INSERT INTO parent (code, name) SELECT CONCAT('P', seq), CONCAT('parent ', seq) FROM seq_1_to_200;
DELETE FROM parent WHERE id > 190;

CREATE TABLE child (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parent_id  INT NOT NULL,
  u1         INT NOT NULL,
  u2         VARCHAR(10) NOT NULL,
  qty        INT NOT NULL DEFAULT 1,
  note       TEXT,
  created    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY k_parent (parent_id),
  KEY k_qty_note (qty, note(20)),
  UNIQUE KEY uk_u (u1, u2),
  FULLTEXT KEY ft_note (note),
  CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE RESTRICT,
  CONSTRAINT chk_qty CHECK (qty >= 0)
) ENGINE=InnoDB;
INSERT INTO child (parent_id, u1, u2, qty, note, created)
  SELECT 1 + seq % 190, seq, CONCAT('u', seq % 3), seq % 11, CONCAT('note number ', seq, ' lorem ipsum'),
         '2024-01-01 00:00:00' + INTERVAL seq MINUTE
  FROM seq_1_to_2000;

-- self-referencing foreign key
CREATE TABLE tree (
  id     INT NOT NULL PRIMARY KEY,
  up     INT NULL,
  label  VARCHAR(20),
  CONSTRAINT fk_tree_up FOREIGN KEY (up) REFERENCES tree (id)
) ENGINE=InnoDB;
INSERT INTO tree VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a.a'), (5, 4, 'a.a.a');

-- ~20000 rows with an integer primary key and far outliers, for chunking
CREATE TABLE big (
  id    INT NOT NULL PRIMARY KEY,
  k     INT NOT NULL DEFAULT 0,
  c     CHAR(120) NOT NULL DEFAULT '',
  pad   VARCHAR(60),
  x     DOUBLE,
  t     DATETIME(6),
  KEY k_k (k)
) ENGINE=InnoDB;
INSERT INTO big
  SELECT seq, seq * 7 % 1000, MD5(seq), IF(seq % 10 = 0, NULL, CONCAT('pad-', seq, '\t\n\\')),
         IF(seq % 13 = 0, NULL, seq / 7), '2020-01-01 00:00:00' + INTERVAL seq * 37 SECOND + INTERVAL seq MICROSECOND
  FROM seq_1_to_20000;
INSERT INTO big VALUES (-2147483648, 0, 'min', NULL, NULL, NULL), (0, 0, 'zero', '', 0, '0000-00-00 00:00:00'),
  (2147483647, 0, 'max', 'max', 1e300, '9999-12-31 23:59:59.999999');
DELETE FROM big WHERE id BETWEEN 5000 AND 5999;

-- empty table
CREATE TABLE empty_t (
  id  INT NOT NULL PRIMARY KEY,
  v   VARCHAR(10)
) ENGINE=InnoDB;

-- odd identifiers
CREATE TABLE `odd name-ü` (
  `select`   INT NOT NULL PRIMARY KEY,
  `col``tick` VARCHAR(10),
  `Space Col` INT,
  `from`     TEXT
) ENGINE=InnoDB;
INSERT INTO `odd name-ü` VALUES (1, 'a`b', 2, 'where'), (2, NULL, NULL, NULL);

-- other engines
CREATE TABLE myisam_t (
  id  INT NOT NULL PRIMARY KEY,
  v   VARCHAR(20)
) ENGINE=MyISAM;
INSERT INTO myisam_t VALUES (1, 'myisam'), (2, NULL);
CREATE TABLE aria_t (
  id  INT NOT NULL PRIMARY KEY,
  v   VARCHAR(20)
) ENGINE=Aria;
INSERT INTO aria_t VALUES (1, 'aria'), (2, NULL);

-- partitioned table
CREATE TABLE parted (
  id  INT NOT NULL,
  d   DATE NOT NULL,
  v   VARCHAR(20),
  PRIMARY KEY (id, d)
) ENGINE=InnoDB
PARTITION BY RANGE (YEAR(d)) (
  PARTITION p2023 VALUES LESS THAN (2024),
  PARTITION p2024 VALUES LESS THAN (2025),
  PARTITION pmax VALUES LESS THAN MAXVALUE
);
INSERT INTO parted SELECT seq, '2023-06-01' + INTERVAL seq DAY, CONCAT('v', seq) FROM seq_1_to_1000;

-- sequence object
CREATE SEQUENCE seq_ids START WITH 100 INCREMENT BY 10 MINVALUE 1 MAXVALUE 1000000 CACHE 5;
SELECT NEXTVAL(seq_ids);

-- --------------------------------------------------- triggers (observable) --
-- A trigger that changes the data it fires on: a restore that creates it
-- before loading rows will load different data.
CREATE TABLE trig_t (
  id    INT NOT NULL PRIMARY KEY,
  note  VARCHAR(100)
) ENGINE=InnoDB;
CREATE TABLE audit_log (
  id     INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  what   VARCHAR(100),
  at_id  INT
) ENGINE=InnoDB;

DELIMITER ;;
CREATE TRIGGER trig_t_bi BEFORE INSERT ON trig_t FOR EACH ROW
BEGIN
  SET NEW.note = CONCAT(IFNULL(NEW.note, ''), '+trg');
END;;
CREATE TRIGGER trig_t_au AFTER UPDATE ON trig_t FOR EACH ROW
  INSERT INTO audit_log (what, at_id) VALUES (CONCAT('update: ', OLD.note, ' -> ', NEW.note), NEW.id);;

CREATE PROCEDURE add_child(IN p_parent INT, IN p_note TEXT, OUT p_id BIGINT)
  MODIFIES SQL DATA
  COMMENT 'adds a child row; ''quoted'' comment'
BEGIN
  DECLARE n INT DEFAULT 0;
  SELECT COUNT(*) INTO n FROM child WHERE parent_id = p_parent;
  INSERT INTO child (parent_id, u1, u2, note) VALUES (p_parent, 1000000 + n, 'p', p_note);
  SET p_id = LAST_INSERT_ID();
END;;

CREATE FUNCTION price_with_tax(p DECIMAL(10,2), rate DECIMAL(5,4)) RETURNS DECIMAL(12,2)
  DETERMINISTIC NO SQL
  RETURN ROUND(p * (1 + rate), 2);;

CREATE EVENT ev_cleanup ON SCHEDULE EVERY 1 DAY STARTS '2037-01-01 00:00:00'
  ON COMPLETION PRESERVE DISABLE COMMENT 'nightly cleanup'
  DO DELETE FROM audit_log WHERE id < 0;;
DELIMITER ;

INSERT INTO trig_t VALUES (1, 'one'), (2, NULL), (3, 'three');
UPDATE trig_t SET note = 'two' WHERE id = 2;

-- --------------------------------------------------------------- views --
-- v_a_outer depends on v_z_inner: alphabetical creation order fails.
CREATE SQL SECURITY INVOKER VIEW v_z_inner AS
  SELECT p.id, p.code, COUNT(c.id) AS children
  FROM parent p LEFT JOIN child c ON c.parent_id = p.id
  GROUP BY p.id, p.code;
CREATE ALGORITHM=TEMPTABLE VIEW v_a_outer AS
  SELECT id, code, children, price_with_tax(children, 0.19) AS taxed
  FROM v_z_inner WHERE children > 0;
CREATE VIEW v_child_pos AS SELECT id, parent_id, qty FROM child WHERE qty > 0
  WITH CASCADED CHECK OPTION;
CREATE VIEW `v odd` AS SELECT `select`, `col``tick` FROM `odd name-ü`;

SET sql_mode = DEFAULT;
