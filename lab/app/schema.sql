-- The shop's database (PostgreSQL 15). Loaded once by `scripts/lab up` into a fresh cluster.
CREATE TABLE users (
    id            serial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    email         text NOT NULL,
    full_name     text NOT NULL,
    password_hash text NOT NULL,
    salt          text NOT NULL,
    address       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE products (
    id          serial PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    category    text NOT NULL,
    description text NOT NULL,
    price       numeric(10, 2) NOT NULL,
    stock       integer NOT NULL,
    rating      real NOT NULL
);
CREATE TABLE reviews (
    id         serial PRIMARY KEY,
    product_id integer NOT NULL REFERENCES products (id),
    user_id    integer NOT NULL REFERENCES users (id),
    stars      integer NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_product ON reviews (product_id, id);
CREATE TABLE orders (
    id           serial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    total        numeric(12, 2) NOT NULL,
    shipping_zip text NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE TABLE order_items (
    order_id   integer NOT NULL REFERENCES orders (id),
    product_id integer NOT NULL REFERENCES products (id),
    qty        integer NOT NULL,
    price      numeric(10, 2) NOT NULL
);
