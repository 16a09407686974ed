"""catalogue: products, search, reviews, shipping quotes and orders, over PostgreSQL with a redis cache.

Two endpoints are vulnerable on purpose (the lab's attacks 2 and 3):
- GET /search?q=   builds its SQL by string formatting (SQL injection);
- GET /shipping?zip= hands the zip code to a shell (command injection).
"""

import json
import os
import subprocess

from flask import Flask, jsonify, request

from common import cache, db, instrument

app = Flask(__name__)
instrument(app, "catalogue")

SHIPPING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipping.sh")
COLUMNS = ("id", "sku", "name", "category", "price", "stock")


def product_rows(rows):
    return [dict(zip(COLUMNS, (r[0], r[1], r[2], r[3], float(r[4]), r[5]))) for r in rows]


@app.get("/products")
def featured():
    rows = db().execute(
        "SELECT id, sku, name, category, price, stock FROM products ORDER BY rating DESC, id LIMIT 12"
    ).fetchall()
    return jsonify(products=product_rows(rows))


@app.get("/products/<int:pid>")
def product(pid):
    key = f"product:{pid}"
    hit = cache().get(key)
    if hit is not None:
        item = json.loads(hit)
    else:
        row = db().execute(
            "SELECT id, sku, name, category, price, stock, description FROM products WHERE id = %s", (pid,)
        ).fetchone()
        if row is None:
            return jsonify(error="no such product"), 404
        item = product_rows([row])[0] | {"description": row[6]}
        cache().setex(key, 120, json.dumps(item))
    reviews = db().execute(
        "SELECT u.username, r.stars, r.body FROM reviews r JOIN users u ON u.id = r.user_id "
        "WHERE r.product_id = %s ORDER BY r.id DESC LIMIT 5",
        (pid,),
    ).fetchall()
    item["reviews"] = [{"user": u, "stars": s, "body": b} for u, s, b in reviews]
    return jsonify(product=item)


@app.post("/products/batch")
def batch():
    ids = [int(i) for i in (request.get_json(force=True, silent=True) or {}).get("ids", [])][:50]
    rows = db().execute(
        "SELECT id, sku, name, category, price, stock FROM products WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    return jsonify(products=product_rows(rows))


@app.get("/search")
def search():
    q = request.args.get("q", "")
    # VULNERABLE (attack 2): the search term is pasted into the SQL text.
    sql = (
        "SELECT id, sku, name, category, price, stock FROM products "
        f"WHERE name ILIKE '%{q}%' OR category ILIKE '%{q}%' ORDER BY rating DESC LIMIT 20"
    )
    try:
        rows = db().execute(sql).fetchall()
    except Exception as e:  # the error text goes back to the client, as careless apps do
        return jsonify(error=str(e).splitlines()[0]), 500
    return jsonify(results=[[str(c) for c in r] for r in rows])


@app.post("/reviews")
def add_review():
    body = request.get_json(force=True, silent=True) or {}
    db().execute(
        "INSERT INTO reviews (product_id, user_id, stars, body) VALUES (%s, %s, %s, %s)",
        (int(body.get("product_id", 1)), int(body.get("user_id", 1)), int(body.get("stars", 5)), str(body.get("body", ""))[:20000]),
    )
    return jsonify(ok=True), 201


@app.get("/shipping")
def shipping():
    zip_code = request.args.get("zip", "")
    # VULNERABLE (attack 3): the legacy rating script runs through a shell with the zip code pasted in.
    out = subprocess.run(f"{SHIPPING} {zip_code}", shell=True, capture_output=True, text=True, timeout=10)
    try:
        return jsonify(json.loads(out.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return jsonify(error="no quote", detail=out.stderr[-200:]), 400


@app.post("/orders")
def place_order():
    body = request.get_json(force=True, silent=True) or {}
    uid = int(body["user_id"])
    items = {int(k): int(v) for k, v in body.get("items", {}).items()}
    conn = db()
    with conn.transaction():
        prices = dict(conn.execute("SELECT id, price FROM products WHERE id = ANY(%s)", (list(items),)).fetchall())
        total = sum(float(prices[p]) * q for p, q in items.items() if p in prices)
        oid = conn.execute(
            "INSERT INTO orders (user_id, total, shipping_zip) VALUES (%s, %s, %s) RETURNING id",
            (uid, total, str(body.get("zip", ""))[:10]),
        ).fetchone()[0]
        for p, q in items.items():
            if p in prices:
                conn.execute(
                    "INSERT INTO order_items (order_id, product_id, qty, price) VALUES (%s, %s, %s, %s)",
                    (oid, p, q, prices[p]),
                )
                conn.execute("UPDATE products SET stock = stock - %s WHERE id = %s", (q, p))
    return jsonify(order=oid, total=round(total, 2)), 201


@app.get("/orders")
def list_orders():
    uid = int(request.args.get("user", "0"))
    rows = db().execute(
        "SELECT id, created_at, total FROM orders WHERE user_id = %s ORDER BY id DESC LIMIT 10", (uid,)
    ).fetchall()
    return jsonify(orders=[{"id": i, "at": str(t), "total": float(v)} for i, t, v in rows])


@app.get("/healthz")
def healthz():
    return "ok"
