"""Fills the shop's database with deterministic data: 20,000 users, 400 products, reviews.

Also writes, next to the database, what the outside world knows:
- customers.csv: username,password of the 600 customers the load generator plays (real users, own passwords);
- leak.txt: a credential dump "from another site" (username:password), the credential-stuffing attack's input,
  in which a few customers reused their password.

Usage: seed.py DSN OUT_DIR
"""

import hashlib
import io
import random
import sys

import psycopg

FIRST = "anna ben carla david emma felix greta hugo ida jonas karla leo mia noah olga paul rosa sam tara ulf vera will".split()
LAST = "meyer schmidt novak garcia rossi smith kowalski dubois jensen silva tanaka okafor berg lind costa weber".split()
CATEGORIES = "coffee tea books garden kitchen music games tools camping bikes".split()
ADJECTIVES = "classic organic smart compact deluxe rustic vintage electric portable premium".split()
NOUNS = {
    "coffee": ["espresso beans", "grinder", "french press", "filter papers"],
    "tea": ["green tea", "teapot", "infuser", "chai blend"],
    "books": ["novel", "cookbook", "atlas", "poetry collection"],
    "garden": ["trowel", "hose", "seed kit", "planter"],
    "kitchen": ["knife", "skillet", "cutting board", "mixer"],
    "music": ["guitar strings", "headphones", "vinyl record", "metronome"],
    "games": ["board game", "puzzle", "card deck", "dice set"],
    "tools": ["hammer", "drill", "screwdriver set", "tape measure"],
    "camping": ["tent", "lantern", "sleeping bag", "stove"],
    "bikes": ["helmet", "bike light", "pump", "saddle"],
}
USERS = 20_000
CUSTOMERS = 600
WORDS = "blue tiger river maple stone cloud amber piano rocket lemon forest silver orbit coral".split()


def search_terms():
    """What people type into the search box."""
    terms = list(CATEGORIES) + list(ADJECTIVES)
    for nouns in NOUNS.values():
        terms += [n.split()[-1] for n in nouns]
    return sorted(set(terms))


def password_hash(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 1000).hex()


def main(dsn, out_dir):
    rnd = random.Random(14)
    users, customers = [], []
    for i in range(1, USERS + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        username = f"{first}.{last}{i}"
        password = f"{rnd.choice(WORDS)}-{rnd.choice(WORDS)}-{rnd.randint(10, 99)}"
        salt = rnd.randbytes(8).hex()
        street = f"{rnd.randint(1, 200)} {rnd.choice(LAST).title()}strasse, {rnd.randint(10000, 99999)} Berlin"
        users.append((username, f"{username}@example.org", f"{first.title()} {last.title()}",
                      password_hash(password, salt), salt, street))
        if i <= CUSTOMERS:
            customers.append((username, password))
    products = []
    for i in range(1, 401):
        cat = CATEGORIES[i % len(CATEGORIES)]
        name = f"{rnd.choice(ADJECTIVES)} {rnd.choice(NOUNS[cat])}"
        products.append((f"SKU-{i:05d}", name, cat, f"A {name} for every {cat} lover. " * rnd.randint(1, 4),
                         round(rnd.uniform(3, 300), 2), rnd.randint(1000, 100000), round(rnd.uniform(1, 5), 2)))
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY users (username, email, full_name, password_hash, salt, address) FROM STDIN") as cp:
                for u in users:
                    cp.write_row(u)
            with cur.copy("COPY products (sku, name, category, description, price, stock, rating) FROM STDIN") as cp:
                for p in products:
                    cp.write_row(p)
            with cur.copy("COPY reviews (product_id, user_id, stars, body) FROM STDIN") as cp:
                for _ in range(3000):
                    cp.write_row((rnd.randint(1, 400), rnd.randint(1, USERS), rnd.randint(1, 5),
                                  rnd.choice(["Great.", "Does the job.", "Broke after a week.", "Love it!"])))
            cur.execute("ANALYZE")
    with open(f"{out_dir}/customers.csv", "w") as f:
        f.write("username,password\n")
        f.writelines(f"{u},{p}\n" for u, p in customers)
    # The leak: 1,000 pairs; usernames mostly real (the same people shop everywhere), passwords mostly from the
    # other site; 2 % of the real customers reused theirs.
    leak = io.StringIO()
    for k in range(1000):
        if k % 50 == 7:
            u, p = customers[(k * 7) % CUSTOMERS]
        else:
            u = users[rnd.randrange(USERS)][0] if rnd.random() < 0.8 else f"{rnd.choice(FIRST)}{rnd.randint(1, 999)}"
            p = f"{rnd.choice(WORDS)}{rnd.randint(1, 9999)}"
        leak.write(f"{u}:{p}\n")
    with open(f"{out_dir}/leak.txt", "w") as f:
        f.write(leak.getvalue())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
