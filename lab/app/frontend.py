"""frontend: the shop's JSON API behind nginx. Talks to auth and catalogue over HTTP and keeps carts and a small
page cache in redis; it has no database credentials and never talks to PostgreSQL.

GET  /                   featured products          GET  /product/<id>      one product with reviews
GET  /search?q=          product search             GET  /shipping?zip=     shipping quote
POST /login              {username, password}       POST /logout
GET  /cart, POST /cart   {product_id, qty}          POST /checkout          {zip}
GET  /account            the user's orders          POST /review            {product_id, stars, body}
"""

import json
import os
import threading

import requests
from flask import Flask, jsonify, make_response, request

from common import cache, instrument

app = Flask(__name__)
instrument(app, "frontend")

AUTH = os.environ.get("LAB_AUTH_URL", "http://127.0.0.1:18082")
CATALOGUE = os.environ.get("LAB_CATALOGUE_URL", "http://127.0.0.1:18083")
TIMEOUT = 15
# One pooled, kept-alive HTTP session per worker thread, as services usually talk to each other: connections to
# auth and catalogue live for many requests.
_local = threading.local()


def http():
    s = getattr(_local, "http", None)
    if s is None:
        s = _local.http = requests.Session()
    return s


def relay(resp):
    """A backend's JSON answer, with its status."""
    try:
        return jsonify(resp.json()), resp.status_code
    except ValueError:
        return jsonify(error="bad gateway"), 502


def current_user():
    token = request.cookies.get("session")
    if not token:
        return None
    resp = http().get(f"{AUTH}/session/{token}", timeout=TIMEOUT)
    return resp.json()["user"] if resp.status_code == 200 else None


@app.get("/")
def home():
    hit = cache().get("page:featured")
    if hit is not None:
        return jsonify(json.loads(hit))
    resp = http().get(f"{CATALOGUE}/products", timeout=TIMEOUT)
    if resp.status_code == 200:
        cache().setex("page:featured", 20, resp.text)
    return relay(resp)


@app.get("/product/<int:pid>")
def product(pid):
    return relay(http().get(f"{CATALOGUE}/products/{pid}", timeout=TIMEOUT))


@app.get("/search")
def search():
    q = request.args.get("q", "")
    key = f"search:{q.lower()[:200]}"
    hit = cache().get(key)
    if hit is not None:
        return jsonify(json.loads(hit))
    resp = http().get(f"{CATALOGUE}/search", params={"q": q}, timeout=TIMEOUT)
    if resp.status_code == 200:
        cache().setex(key, 60, resp.text)
    return relay(resp)


@app.get("/shipping")
def shipping():
    return relay(http().get(f"{CATALOGUE}/shipping", params={"zip": request.args.get("zip", "")}, timeout=TIMEOUT))


@app.post("/login")
def login():
    resp = http().post(f"{AUTH}/login", json=request.get_json(force=True, silent=True) or {}, timeout=TIMEOUT)
    if resp.status_code != 200:
        return relay(resp)
    out = make_response(jsonify(user=resp.json()["user"]))
    out.set_cookie("session", resp.json()["token"], httponly=True)
    return out


@app.post("/logout")
def logout():
    token = request.cookies.get("session")
    if token:
        http().post(f"{AUTH}/logout/{token}", timeout=TIMEOUT)
    out = make_response(jsonify(ok=True))
    out.delete_cookie("session")
    return out


def need_user():
    user = current_user()
    if user is None:
        return None, (jsonify(error="login required"), 401)
    return user, None


@app.get("/cart")
def cart():
    user, err = need_user()
    if err:
        return err
    items = cache().hgetall(f"cart:{user['id']}")
    if not items:
        return jsonify(items=[], total=0)
    resp = http().post(f"{CATALOGUE}/products/batch", json={"ids": list(items)}, timeout=TIMEOUT)
    products = {str(p["id"]): p for p in resp.json().get("products", [])}
    lines = [products[k] | {"qty": int(v)} for k, v in items.items() if k in products]
    return jsonify(items=lines, total=round(sum(p["price"] * p["qty"] for p in lines), 2))


@app.post("/cart")
def add_to_cart():
    user, err = need_user()
    if err:
        return err
    body = request.get_json(force=True, silent=True) or {}
    key = f"cart:{user['id']}"
    cache().hincrby(key, str(int(body.get("product_id", 1))), int(body.get("qty", 1)))
    cache().expire(key, 3600)
    return jsonify(ok=True)


@app.post("/checkout")
def checkout():
    user, err = need_user()
    if err:
        return err
    key = f"cart:{user['id']}"
    items = cache().hgetall(key)
    if not items:
        return jsonify(error="empty cart"), 400
    body = request.get_json(force=True, silent=True) or {}
    resp = http().post(
        f"{CATALOGUE}/orders",
        json={"user_id": user["id"], "items": items, "zip": body.get("zip", "")},
        timeout=TIMEOUT,
    )
    if resp.status_code == 201:
        cache().delete(key)
    return relay(resp)


@app.get("/account")
def account():
    user, err = need_user()
    if err:
        return err
    resp = http().get(f"{CATALOGUE}/orders", params={"user": user["id"]}, timeout=TIMEOUT)
    return jsonify(user=user, orders=resp.json().get("orders", []))


@app.post("/review")
def review():
    user, err = need_user()
    if err:
        return err
    body = request.get_json(force=True, silent=True) or {}
    body["user_id"] = user["id"]
    return relay(http().post(f"{CATALOGUE}/reviews", json=body, timeout=TIMEOUT))


@app.get("/healthz")
def healthz():
    return "ok"
