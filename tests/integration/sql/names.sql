-- Names in every order trap (issue 9): the server sorts names by its
-- collation in one information_schema query and by bytes in another; case
-- twins, accents, punctuation, reserved words, backticks, 64-character names,
-- tables with and without keys.  Every table has rows, most have NOT NULL
-- columns, so a table restored as NULLs or empty is caught.
SET NAMES utf8mb4;

CREATE DATABASE d CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE d;
CREATE TABLE orders (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
INSERT INTO orders VALUES (1,'o1'),(2,'o2');
CREATE TABLE order_items (a INT, b VARCHAR(20));
INSERT INTO order_items VALUES (1,'i1'),(1,'i1'),(2,NULL);
CREATE TABLE `order-notes` (id INT PRIMARY KEY, note TEXT NOT NULL);
INSERT INTO `order-notes` VALUES (1,'first'),(2,'tab\there');
CREATE TABLE `order notes` (id INT PRIMARY KEY, note TEXT NOT NULL);
INSERT INTO `order notes` VALUES (7,'space');
CREATE TABLE order1 (id BIGINT UNSIGNED PRIMARY KEY, x INT NOT NULL);
INSERT INTO order1 VALUES (1,1),(18446744073709551615,2);
CREATE TABLE orders2 (k VARCHAR(10) PRIMARY KEY, x INT NOT NULL);
INSERT INTO orders2 VALUES ('a',1),('B',2);
CREATE TABLE zeta (q INT, r INT);
INSERT INTO zeta VALUES (7,70),(8,80);
CREATE TABLE Zed (id INT PRIMARY KEY, z INT NOT NULL);
INSERT INTO Zed VALUES (5,50);
CREATE TABLE zed (id INT PRIMARY KEY, zz VARCHAR(5) NOT NULL, extra INT);
INSERT INTO zed VALUES (6,'lower',1),(7,'again',NULL);
CREATE TABLE `é` (id INT PRIMARY KEY, e VARCHAR(10) NOT NULL);
INSERT INTO `é` VALUES (1,'é-row');
CREATE TABLE f (id INT PRIMARY KEY, ff DOUBLE NOT NULL);
INSERT INTO f VALUES (1,1.5),(2,-2.25);
CREATE TABLE e (id INT PRIMARY KEY, plain CHAR(3) NOT NULL);
INSERT INTO e VALUES (1,'e'),(2,'ee');
CREATE TABLE _under (id INT PRIMARY KEY, u INT NOT NULL);
INSERT INTO _under VALUES (1,10),(2,20),(3,30);
CREATE TABLE `ÆØÅ` (id INT PRIMARY KEY, `ø col` VARCHAR(10) NOT NULL);
INSERT INTO `ÆØÅ` VALUES (1,'æøå');
CREATE TABLE `%` (id INT PRIMARY KEY, pct INT NOT NULL);
INSERT INTO `%` VALUES (100,100);
CREATE TABLE `select` (`from` INT PRIMARY KEY, `where` VARCHAR(10) NOT NULL);
INSERT INTO `select` VALUES (1,'reserved');
CREATE TABLE `back``tick` (`a``b` INT PRIMARY KEY, `c'd` VARCHAR(10) NOT NULL);
INSERT INTO `back``tick` VALUES (1,'quote''s');
CREATE TABLE `9lives` (id INT PRIMARY KEY, n INT NOT NULL);
INSERT INTO `9lives` VALUES (9,9);
CREATE TABLE t_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz (
  id INT PRIMARY KEY,
  c_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz INT NOT NULL);
INSERT INTO t_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz VALUES (1,64),(2,128);
CREATE TABLE nokeys_dups (a VARCHAR(10) NOT NULL, b INT);
INSERT INTO nokeys_dups VALUES ('x',1),('x',1),('y',NULL);
CREATE TABLE many_cols (id INT PRIMARY KEY, c1 INT NOT NULL, c2 INT NOT NULL, c3 INT NOT NULL,
  g INT AS (c1 + c2) VIRTUAL, c4 VARCHAR(5) NOT NULL);
INSERT INTO many_cols (id, c1, c2, c3, c4) VALUES (1,1,2,3,'four'),(2,5,6,7,'eight');
CREATE VIEW order_view AS SELECT o.id, o.v, i.b FROM orders o JOIN order_items i ON i.a = o.id;

-- Twin databases that differ only in case, both with tables.
CREATE DATABASE Sales;
CREATE DATABASE sales;
CREATE TABLE Sales.orders (id INT PRIMARY KEY, region VARCHAR(10) NOT NULL);
INSERT INTO Sales.orders VALUES (1,'UPPER'),(2,'UPPER');
CREATE TABLE sales.orders (id INT PRIMARY KEY, amount DECIMAL(10,2) NOT NULL, note VARCHAR(10));
INSERT INTO sales.orders VALUES (1,9.99,'lower'),(3,1.00,NULL);
CREATE TABLE sales.Orders (id INT PRIMARY KEY, mixed INT NOT NULL);
INSERT INTO sales.Orders VALUES (4,4);

-- Databases whose names sort differently by collation and by bytes.
CREATE DATABASE `ÆØÅ db`;
CREATE TABLE `ÆØÅ db`.`Ærø` (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL);
INSERT INTO `ÆØÅ db`.`Ærø` VALUES (1,'island');
CREATE DATABASE `with space`;
CREATE TABLE `with space`.`with space` (id INT PRIMARY KEY, v INT NOT NULL);
INSERT INTO `with space`.`with space` VALUES (1,1);
CREATE DATABASE `%db`;
CREATE TABLE `%db`.`t` (id INT PRIMARY KEY, v INT NOT NULL);
INSERT INTO `%db`.`t` VALUES (1,2);
CREATE DATABASE `db_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxy`;
CREATE TABLE `db_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxy`.`t` (
  id INT PRIMARY KEY, v INT NOT NULL);
INSERT INTO `db_64_chars_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxy`.`t` VALUES (1,64);
