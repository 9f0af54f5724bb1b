-- types_more: the column types and table kinds that alltypes.sql leaves out
-- or only touches lightly, with values chosen to break a logical backup:
-- INET4/INET6/UUID, every spatial type (and SPATIAL indexes), JSON with
-- escapes, ENUM/SET with an '' member and the ENUM error value, BIT, the
-- temporal types with fractions and zero dates, DECIMAL(65,30), every BLOB
-- and TEXT size with all 256 byte values, VARCHAR in cp1251/sjis/gbk/latin1/
-- utf8mb4, BINARY/VARBINARY with trailing zero bytes, system-versioned tables
-- (implicit and explicit row start/end columns, partitioned BY SYSTEM_TIME)
-- with history, and application-time periods.
-- Loads with `mariadb < types_more.sql` into a fresh MariaDB >= 10.11 server
-- with default settings.  System-versioned history is made at fixed times
-- (SET timestamp), so the fixture is deterministic.
SET sql_mode = '';
SET NAMES utf8mb4;
SET time_zone = '+00:00';

DROP DATABASE IF EXISTS types_more;
CREATE DATABASE types_more CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE types_more;

-- --------------------------------------------------------- inet6 / inet4 --
-- (values whose 16-byte/4-byte form holds NUL, TAB, LF, backslash and space
-- bytes, and one text form that is exactly 16 characters long)
CREATE TABLE inet (
  id  INT NOT NULL PRIMARY KEY,
  a6  INET6,
  n6  INET6 NOT NULL,
  a4  INET4,
  KEY k_a6 (a6)
) ENGINE=InnoDB;
INSERT INTO inet VALUES
 (1, '2001:db8::ff00:42:8329', '::', '0.0.0.0'),
 (2, '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '255.255.255.255'),
 (3, '::ffff:192.0.2.1', '::192.0.2.1', '192.0.2.1'),
 (4, '2001:db8::1:2:34', 'fe80::1', '10.9.10.92'),
 (5, '::a09:a5c', '::20', '32.32.32.32'),
 (6, '5c5c:a0a:909:0:0:2020:2020:2020', '::2020:2020', '92.0.0.92'),
 (7, NULL, '::', NULL);

-- INET6 as the primary key
CREATE TABLE inet_pk (
  a6  INET6 NOT NULL PRIMARY KEY,
  v   VARCHAR(10)
) ENGINE=InnoDB;
INSERT INTO inet_pk VALUES ('::', 'zero'), ('::1', 'one'), ('2001:db8::ff00:42:8329', 'doc'),
 ('::a09:a5c', 'esc'), ('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'max');

-- ------------------------------------------------------------------ uuid --
-- (RFC 4122 variants of versions 1, 4 and 7, which the server stores with
-- swapped segments, and non-RFC values, which it stores as they are)
CREATE TABLE uuids (
  id  INT NOT NULL PRIMARY KEY,
  u   UUID,
  un  UUID NOT NULL,
  UNIQUE KEY uk_u (u)
) ENGINE=InnoDB;
INSERT INTO uuids VALUES
 (1, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
 (2, '6ccd780c-baba-1026-9564-5b8c656024db', '123e4567-e89b-12d3-a456-426614174000'),
 (3, 'f47ac10b-58cc-4372-a567-0e02b2c3d479', '01890a5d-ac96-774b-bcce-b302099a8057'),
 (4, '0a090a5c-0000-1000-8000-00005c0a0900', '12345678-1234-1234-1234-123456789abc'),
 (5, '5c0a0900-2020-4020-a020-202020202020', '0a090a5c-0000-f000-c000-00005c0a0900'),
 (6, NULL, '00000000-0000-0000-0000-000000000001');

-- -------------------------------------------------------------- spatial --
CREATE TABLE geo_all (
  id   INT NOT NULL PRIMARY KEY,
  g    GEOMETRY,
  p    POINT,
  l    LINESTRING,
  pg   POLYGON,
  mp   MULTIPOINT,
  ml   MULTILINESTRING,
  mpg  MULTIPOLYGON,
  gc   GEOMETRYCOLLECTION
) ENGINE=InnoDB;
INSERT INTO geo_all VALUES
 (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(0 0)'),
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0.5)'),
     ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))'),
     ST_GeomFromText('MULTIPOINT(0 0, 1 1, -1 -1)'),
     ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3, 4 5))'),
     ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5), (5.2 5.1, 5.8 5.1, 5.8 5.7, 5.2 5.1)))'),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 2 2), POLYGON((0 0, 1 0, 0 1, 0 0)))')),
 (2, ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))', 4326), ST_GeomFromText('POINT(13.4 52.5)', 4326),
     ST_GeomFromText('LINESTRING(1e-300 1e300, -180 -90)', 3857),
     ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326),
     ST_GeomFromText('MULTIPOINT(1 1)', 4326),
     ST_GeomFromText('MULTILINESTRING((0 0, 1 1))', 4326),
     ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))', 4326),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))', 4326)),
 -- coordinates whose doubles contain 0x00, 0x09, 0x0A and 0x5C bytes
 (3, ST_GeomFromText('GEOMETRYCOLLECTION EMPTY'), ST_PointFromWKB(X'0101000000095C0A00095C0A400A095C000A095C40'),
     ST_GeomFromText('LINESTRING(9 10, 92 10)'),
     ST_GeomFromText('POLYGON((0 0, 0 9.000000000000002, 10 10, 0 0))'),
     ST_GeomFromText('MULTIPOINT(-0 0, 2.5e-320 5e-324)'),
     ST_GeomFromText('MULTILINESTRING((9 9, 10 10), (92 92, 0 0))'),
     ST_GeomFromText('MULTIPOLYGON(((9 9, 10 9, 10 10, 9 9)))'),
     ST_GeomFromText('GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(POINT(1 2)), MULTIPOINT(3 4, 5 6), GEOMETRYCOLLECTION EMPTY)')),
 (4, ST_GeomFromText('LINESTRING(0 0, 1e15 -1e15)'), NULL, NULL, NULL, NULL, NULL, NULL, ST_GeomFromText('GEOMETRYCOLLECTION EMPTY')),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- SPATIAL indexes need NOT NULL columns
CREATE TABLE geo_spatial (
  id  INT NOT NULL PRIMARY KEY,
  g   GEOMETRY NOT NULL,
  p   POINT NOT NULL,
  SPATIAL KEY sp_g (g),
  SPATIAL KEY sp_p (p)
) ENGINE=InnoDB;
INSERT INTO geo_spatial
  SELECT seq, ST_Buffer(ST_GeomFromText(CONCAT('POINT(', seq, ' ', -seq, ')')), 0.5),
         ST_GeomFromText(CONCAT('POINT(', seq / 7, ' ', seq * 1.1, ')'))
  FROM seq_1_to_30;
INSERT INTO geo_spatial VALUES (0, ST_GeomFromText('POINT(9 10)'), ST_GeomFromText('POINT(0 0)')),
 (-1, ST_GeomFromText('POLYGON((0 0, 92 0, 92 10, 0 0))'), ST_GeomFromText('POINT(-180 -90)'));

CREATE TABLE geo_spatial_aria (
  id  INT NOT NULL PRIMARY KEY,
  p   POINT NOT NULL,
  SPATIAL KEY sp_p (p)
) ENGINE=Aria;
INSERT INTO geo_spatial_aria SELECT seq, ST_GeomFromText(CONCAT('POINT(', seq, ' 10)')) FROM seq_1_to_20;

-- ----------------------------------------------------------------- json --
CREATE TABLE json_t (
  id  INT NOT NULL PRIMARY KEY,
  j   JSON,
  jn  JSON NOT NULL
) ENGINE=InnoDB;
INSERT INTO json_t VALUES
 (1, '{"tab": "a\\tb", "nl": "a\\nb", "bs": "a\\\\b", "nul": "a\\u0000b", "q": "\\"x\\"", "sl": "a\\/b"}', '{}'),
 (2, '{"fr": "déjà vu", "ru": "Привет", "ja": "日本語", "emoji": "😀🇫🇷", "esc": "\\u00e9\\ud83d\\ude00"}', '[]'),
 (3, CONCAT('{\n\t"raw":\t"whitespace",\r\n  "k": [1,\n2]\n}'), 'null'),
 (4, '[1.5e300, -0, 0.1, 18446744073709551616, -9223372036854775809, 1e-400, true, false, null]', '"\\\\N"'),
 (5, '{"dup": 1, "dup": 2, "": "empty key", "\\\\": "\\\\N"}', '"a\\u0009b"'),
 (6, NULL, '"string with a real \\\\ backslash"');

-- ------------------------------------------------------------- enum/set --
-- (the ENUM error value, index 0, prints as '' like the '' member; an ENUM
-- member may hold a comma, a SET member may not: ERROR 1367)
CREATE TABLE enum_set (
  id  INT NOT NULL PRIMARY KEY,
  e   ENUM('', 'a', 'b,c', '0', '7', 'é'),
  en  ENUM('x', '', 'y') NOT NULL,
  ec  ENUM('один', 'два', '') CHARACTER SET cp1251,
  s   SET('', 'a', 'b'),
  sn  SET('1', '2', 'x y') NOT NULL
) ENGINE=InnoDB;
INSERT INTO enum_set VALUES
 (1, '', '', '', '', ''),
 (2, 'a', 'x', 'один', 'a', '1'),
 (3, 'b,c', 'y', 'два', 'a,b', '2'),
 (4, '0', '', '', ',a', '1,2,x y'),
 (5, '7', 'x', 'два', 'b', 'x y'),
 (6, 'é', 'y', 'один', ',a,b', '2,x y'),
 (7, NULL, 'x', NULL, NULL, '1,2');
-- index 0 (the error value) and the '' member in the same columns
INSERT INTO enum_set VALUES (8, 'not a member', 'zz', 'zz', 'zz', 'zz');
UPDATE enum_set SET e = 0, en = 0, ec = 0 WHERE id = 8;
UPDATE enum_set SET s = 1, sn = 0 WHERE id = 1;
UPDATE enum_set SET s = 3 WHERE id = 4;

-- ----------------------------------------------------------------- bits --
CREATE TABLE bits (
  id   INT NOT NULL PRIMARY KEY,
  b1   BIT(1),
  b1n  BIT(1) NOT NULL DEFAULT b'0',
  b9   BIT(9),
  b64  BIT(64)
) ENGINE=InnoDB;
INSERT INTO bits VALUES
 (1, b'0', b'0', b'0', 0),
 (2, b'1', b'1', b'111111111', 0xFFFFFFFFFFFFFFFF),
 (3, b'1', b'0', b'100000000', 0x8000000000000000),
 (4, b'0', b'1', b'000001010', 0x000000000000005C),
 (5, NULL, b'1', NULL, 0x0A0D5C0009200A5C),
 (6, NULL, b'0', b'000001001', NULL);

-- ------------------------------------------------------------- temporal --
CREATE TABLE temporal (
  id    INT NOT NULL PRIMARY KEY,
  y     YEAR,
  d     DATE,
  t     TIME,
  t6    TIME(6),
  dt    DATETIME,
  dt6   DATETIME(6),
  ts    TIMESTAMP NULL DEFAULT NULL,
  ts6   TIMESTAMP(6) NULL DEFAULT NULL,
  tsn   TIMESTAMP(6) NOT NULL DEFAULT '2000-01-01 00:00:00.000001'
) ENGINE=InnoDB;
INSERT INTO temporal VALUES
 (1, 0, '0000-00-00', '00:00:00', '00:00:00.000000', '0000-00-00 00:00:00',
     '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00'),
 (2, 1901, '1000-01-01', '-838:59:59', '-838:59:58.999999', '1000-01-01 00:00:00',
     '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000001', '1970-01-01 00:00:01.5'),
 (3, 2155, '9999-12-31', '838:59:59', '838:59:58.999999', '9999-12-31 23:59:59',
     '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07.999999'),
 (4, 2000, '2020-00-00', '-00:00:01', '-00:00:00.000001', '2020-01-00 12:00:00',
     '2000-02-28 23:59:59.5', '2024-03-31 01:30:00', '2024-10-27 01:30:00.123456', '2024-10-27 02:30:00.654321'),
 (5, 1970, '2024-02-29', '100:00:00', '23:59:59.999999', '1969-12-31 23:59:59',
     '1582-10-10 10:10:10.100000', '2000-01-01 00:00:00', '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59.999999'),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT);

-- ------------------------------------------------------------- decimals --
CREATE TABLE decimals (
  id    INT NOT NULL PRIMARY KEY,
  d     DECIMAL(65,30),
  d0    DECIMAL(65,0),
  du    DECIMAL(65,30) UNSIGNED ZEROFILL
) ENGINE=InnoDB;
INSERT INTO decimals VALUES
 (1, 99999999999999999999999999999999999.999999999999999999999999999999,
     99999999999999999999999999999999999999999999999999999999999999999,
     99999999999999999999999999999999999.999999999999999999999999999999),
 (2, -99999999999999999999999999999999999.999999999999999999999999999999,
     -99999999999999999999999999999999999999999999999999999999999999999, 0),
 (3, 0.000000000000000000000000000001, 1, 0.000000000000000000000000000001),
 (4, -0.000000000000000000000000000001, -1, 1),
 (5, 0, 0, 12345.678901234567890123456789012345),
 (6, NULL, NULL, NULL);

-- --------------------------------------------------------- blobs / text --
CREATE TABLE lobs (
  id   INT NOT NULL PRIMARY KEY,
  tb   TINYBLOB,
  b    BLOB,
  mb   MEDIUMBLOB,
  lb   LONGBLOB,
  tt   TINYTEXT,
  t    TEXT,
  mt   MEDIUMTEXT,
  lt   LONGTEXT,
  t1   TEXT CHARACTER SET latin1
) ENGINE=InnoDB;
INSERT INTO lobs VALUES
 (1, X'00', X'00', X'00', X'00', '', '', '', '', ''),
 (2, X'5C4E', '\\N', 'NULL', X'5C', '\\N', 'NULL', '\\', '\\\\N', '\\N'),
 (3, X'0A', X'09', X'0D0A', X'5C5C0A090000', '\n', '\t', '\r\n', 'a\0b', 'a\0b'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, '', '', '', '', ' ', '  trailing  ', 'x ', '😀 emoji 👩‍👩‍👧', 'Größe');
CREATE TABLE bytes256 (n INT NOT NULL PRIMARY KEY, v VARBINARY(256)) ENGINE=InnoDB;
INSERT INTO bytes256 SELECT seq, CHAR(seq USING binary) FROM seq_0_to_255;
UPDATE lobs SET
  tb = (SELECT GROUP_CONCAT(v ORDER BY n SEPARATOR '') FROM bytes256 WHERE n < 255),
  b  = (SELECT GROUP_CONCAT(v ORDER BY n SEPARATOR '') FROM bytes256),
  mb = REPEAT((SELECT GROUP_CONCAT(v ORDER BY n SEPARATOR '') FROM bytes256), 300),
  lb = REPEAT((SELECT GROUP_CONCAT(v ORDER BY n DESC SEPARATOR '') FROM bytes256), 20000),
  t1 = CONVERT((SELECT GROUP_CONCAT(v ORDER BY n SEPARATOR '') FROM bytes256) USING latin1),
  mt = REPEAT('medium \\ \t \n 😀 ', 5000),
  lt = REPEAT('long ÿ \0 \\N ', 100000)
WHERE id = 1;

-- ------------------------------------------------------------- charsets --
-- (sjis and gbk have 0x5C, the escape character, as a trail byte)
CREATE TABLE charsets (
  id     INT NOT NULL PRIMARY KEY,
  cp     VARCHAR(40) CHARACTER SET cp1251,
  cpc    CHAR(10) CHARACTER SET cp1251 COLLATE cp1251_bin,
  sj     VARCHAR(40) CHARACTER SET sjis,
  gb     VARCHAR(40) CHARACTER SET gbk,
  l1     VARCHAR(40) CHARACTER SET latin1,
  u8     VARCHAR(40) CHARACTER SET utf8mb4,
  u8b    VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  u3     VARCHAR(40) CHARACTER SET utf8mb3,
  ucs    VARCHAR(40) CHARACTER SET ucs2,
  u16    VARCHAR(40) CHARACTER SET utf16,
  u32    VARCHAR(40) CHARACTER SET utf32
) ENGINE=InnoDB;
INSERT INTO charsets VALUES
 (1, 'Привет, мир', 'ЁёЪъ', '表示ソ能十', '餐饮', 'Größe façade', '😀🎉 emoji', '🇫🇷 flag', 'ñ€', 'Ωmega', '😀 u16', '😀 u32'),
 (2, 'Ђђ№™', 'Ї', 'ソ\\表', '功夫', 'ÿþ', '漢字 かな 한국어', 'A', 'é', '\\', '\t', '\n'),
 (3, '', '', '', '', '', '', '', '', '', '', ''),
 (4, 'tab\there', 'a\\b', 'ﾊﾝｶｸ', '\\N', 'NULL', '\\N', 'back\\slash\nnew', 'x', 'y', 'z', '\0'),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- bytes that do not map to Unicode: cp1251 0x98, latin1 0x81 0x8D 0x8F 0x90 0x9D
UPDATE charsets SET cp = CONCAT(cp, _cp1251 X'98'), l1 = CONCAT(l1, _latin1 X'818D8F909D') WHERE id = 2;

-- --------------------------------------------------------------- binary --
CREATE TABLE binaries (
  id   INT NOT NULL PRIMARY KEY,
  b1   BINARY(1),
  b16  BINARY(16),
  vb   VARBINARY(300),
  b255 BINARY(255)
) ENGINE=InnoDB;
INSERT INTO binaries VALUES
 (1, X'00', X'00', X'00', X'00'),
 (2, X'5C', X'61620000', X'6162000000', X'6162000000'),
 (3, ' ', 'a  ', 'a  ', ' '),
 (4, '', '', '', ''),
 (5, X'0A', X'0A090D5C00FF', X'0A090D5C00FF00', X'0A090D5C00FF0000'),
 (6, NULL, NULL, NULL, NULL);
UPDATE binaries SET
  vb = (SELECT GROUP_CONCAT(v ORDER BY n SEPARATOR '') FROM bytes256 WHERE n < 255),
  b255 = (SELECT GROUP_CONCAT(v ORDER BY n DESC SEPARATOR '') FROM bytes256 WHERE n > 0)
WHERE id = 4;

-- ---------------------------------------------------------- no primary key --
CREATE TABLE nopk_mixed (
  a6  INET6,
  u   UUID,
  p   POINT,
  e   ENUM('', 'a'),
  b   BIT(3),
  j   JSON,
  vb  VARBINARY(10)
) ENGINE=InnoDB;
INSERT INTO nopk_mixed VALUES
 ('::1', '6ccd780c-baba-1026-9564-5b8c656024db', ST_GeomFromText('POINT(1 1)'), '', b'101', '{"a": "\\n"}', X'00'),
 ('::1', '6ccd780c-baba-1026-9564-5b8c656024db', ST_GeomFromText('POINT(1 1)'), '', b'101', '{"a": "\\n"}', X'00'),
 ('2001:db8::ff00:42:8329', NULL, NULL, 'a', NULL, NULL, NULL),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO nopk_mixed (e) VALUES ('bad');

-- -------------------------------------------------------- MyISAM, Aria --
CREATE TABLE myisam_more (
  id  INT NOT NULL PRIMARY KEY,
  a6  INET6,
  u   UUID,
  g   GEOMETRY NOT NULL,
  v   VARCHAR(20),
  SPATIAL KEY sp_g (g)
) ENGINE=MyISAM;
INSERT INTO myisam_more VALUES (1, '2001:db8::ff00:42:8329', '6ccd780c-baba-1026-9564-5b8c656024db', ST_GeomFromText('POINT(1 2)'), 'myisam'),
 (2, NULL, NULL, ST_GeomFromText('LINESTRING(0 0, 9 10)'), NULL);
CREATE TABLE aria_more (
  id  INT NOT NULL PRIMARY KEY,
  a6  INET6,
  v   VARCHAR(20)
) ENGINE=Aria TRANSACTIONAL=1;
INSERT INTO aria_more VALUES (1, '::a09:a5c', 'aria'), (2, NULL, NULL);

-- ------------------------------------------------- system-versioned tables --
-- History made at fixed times.
SET timestamp = UNIX_TIMESTAMP('2021-01-01 00:00:00');

-- implicit ROW_START / ROW_END (invisible pseudo-columns)
CREATE TABLE sv_implicit (
  id  INT NOT NULL PRIMARY KEY,
  v   VARCHAR(20),
  a6  INET6
) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO sv_implicit VALUES (1, 'one', '::1'), (2, 'two', '2001:db8::ff00:42:8329'), (3, 'three', NULL), (4, 'four', '::');

-- explicit row start/end columns
CREATE TABLE sv_explicit (
  id     INT NOT NULL PRIMARY KEY,
  v      VARCHAR(20),
  rs     TIMESTAMP(6) GENERATED ALWAYS AS ROW START,
  re     TIMESTAMP(6) GENERATED ALWAYS AS ROW END,
  PERIOD FOR SYSTEM_TIME (rs, re)
) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO sv_explicit (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three');

-- explicit and INVISIBLE, plus a column that is not versioned
CREATE TABLE sv_explicit_invisible (
  id     INT NOT NULL PRIMARY KEY,
  v      VARCHAR(20),
  nv     INT WITHOUT SYSTEM VERSIONING,
  vstart TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE,
  vend   TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE,
  PERIOD FOR SYSTEM_TIME (vstart, vend)
) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO sv_explicit_invisible (id, v, nv) VALUES (1, 'one', 1), (2, 'two', 2);

-- history in its own partitions
CREATE TABLE sv_parted (
  id  INT NOT NULL PRIMARY KEY,
  v   VARCHAR(20)
) ENGINE=InnoDB WITH SYSTEM VERSIONING
PARTITION BY SYSTEM_TIME LIMIT 2 (
  PARTITION p_hist0 HISTORY,
  PARTITION p_hist1 HISTORY,
  PARTITION p_cur CURRENT
);
INSERT INTO sv_parted VALUES (1, 'one'), (2, 'two'), (3, 'three');

-- application-time period
CREATE TABLE app_period (
  id  INT NOT NULL,
  s   DATE NOT NULL,
  e   DATE NOT NULL,
  v   VARCHAR(20),
  PERIOD FOR valid (s, e),
  PRIMARY KEY (id, valid WITHOUT OVERLAPS)
) ENGINE=InnoDB;
INSERT INTO app_period VALUES (1, '2020-01-01', '2030-01-01', 'one'), (2, '2000-01-01', '2001-01-01', 'two'),
 (3, '1000-01-01', '9999-12-31', 'three');

-- application time and system versioning together
CREATE TABLE bitemporal (
  id  INT NOT NULL,
  s   DATETIME(6) NOT NULL,
  e   DATETIME(6) NOT NULL,
  v   VARCHAR(20),
  PERIOD FOR valid (s, e),
  PRIMARY KEY (id, valid WITHOUT OVERLAPS)
) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO bitemporal VALUES (1, '2020-01-01 00:00:00', '2030-01-01 00:00:00', 'one'),
 (2, '2020-01-01 00:00:00.5', '2020-01-01 00:00:00.500001', 'two');

SET timestamp = UNIX_TIMESTAMP('2022-02-02 02:02:02.123456');
UPDATE sv_implicit SET v = 'one v2' WHERE id = 1;
UPDATE sv_implicit SET a6 = 'fe80::1' WHERE id = 2;
DELETE FROM sv_implicit WHERE id = 3;
UPDATE sv_explicit SET v = 'one v2' WHERE id = 1;
DELETE FROM sv_explicit WHERE id = 2;
UPDATE sv_explicit_invisible SET v = 'one v2' WHERE id = 1;
UPDATE sv_explicit_invisible SET nv = 20 WHERE id = 2;
UPDATE sv_parted SET v = 'one v2' WHERE id = 1;
DELETE FROM sv_parted WHERE id = 3;
UPDATE app_period FOR PORTION OF valid FROM '2024-01-01' TO '2025-01-01' SET v = 'one in 2024' WHERE id = 1;
DELETE FROM app_period FOR PORTION OF valid FROM '2000-06-01' TO '2000-07-01' WHERE id = 2;
UPDATE bitemporal FOR PORTION OF valid FROM '2024-01-01' TO '2025-01-01' SET v = 'one in 2024' WHERE id = 1;

SET timestamp = UNIX_TIMESTAMP('2023-03-03 03:03:03.999999');
UPDATE sv_implicit SET v = 'one v3' WHERE id = 1;
INSERT INTO sv_implicit VALUES (3, 'three again', '::3');
DELETE FROM sv_explicit WHERE id = 3;
INSERT INTO sv_explicit (id, v) VALUES (2, 'two again');
DELETE FROM sv_explicit_invisible WHERE id = 2;
UPDATE sv_parted SET v = 'one v3' WHERE id = 1;
DELETE FROM bitemporal WHERE id = 2;

SET timestamp = DEFAULT;
