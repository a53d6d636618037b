-- Example tenants for the compose file: acme and globex share database app (one schema each),
-- initech and umbrella have databases of their own, hooli and piedpiper share table orders of
-- database saas (column tenant_id). tenantgate logs in as role tenantgate.
CREATE ROLE tenantgate LOGIN NOSUPERUSER PASSWORD 'tenantgate';
CREATE DATABASE app OWNER tenantgate;
CREATE DATABASE initech OWNER tenantgate;
CREATE DATABASE umbrella OWNER tenantgate;
CREATE DATABASE saas OWNER tenantgate;

\connect app
SET ROLE tenantgate;
CREATE SCHEMA acme;
CREATE SCHEMA globex;
CREATE TABLE acme.orders (id int PRIMARY KEY, item text NOT NULL, amount numeric NOT NULL);
CREATE TABLE globex.orders (id int PRIMARY KEY, item text NOT NULL, amount numeric NOT NULL);
INSERT INTO acme.orders VALUES (1, 'acme item 1', 10.50), (2, 'acme item 2', 20.50);
INSERT INTO globex.orders VALUES (1, 'globex item 1', 10.50), (2, 'globex item 2', 20.50), (3, 'globex item 3', 30.50);

\connect initech
SET ROLE tenantgate;
CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, amount numeric NOT NULL);
INSERT INTO orders VALUES (1, 'initech item 1', 10.50);

\connect umbrella
SET ROLE tenantgate;
CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, amount numeric NOT NULL);
INSERT INTO orders VALUES (1, 'umbrella item 1', 10.50), (2, 'umbrella item 2', 20.50);

\connect saas
SET ROLE tenantgate;
CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, item text NOT NULL, amount numeric NOT NULL);
CREATE INDEX orders_tenant ON orders (tenant_id);
INSERT INTO orders VALUES (1, 'hooli', 'hooli item 1', 10.50), (2, 'piedpiper', 'piedpiper item 1', 10.50),
                          (3, 'piedpiper', 'piedpiper item 2', 20.50);
