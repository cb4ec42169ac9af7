"""mysql-connector-python under capture, in a fresh interpreter: ``TRACES SETTINGS_JSON pure|c``.

The C extension links its own OpenSSL and must load before anything imports
the ``ssl`` module (perfdoctor's own imports do): it is imported first.
"""

import sys

if sys.argv[3] == "c":
    import _mysql_connector  # noqa: F401

import json

import mysql.connector

import perfdoctor

traces, settings, variant = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
perfdoctor.instrument(traces)
with perfdoctor.trace("t", "http"):
    conn = mysql.connector.connect(
        **settings, use_pure=variant == "pure", autocommit=True, consume_results=True
    )
    cur = conn.cursor()
    cur.execute("CREATE TABLE drv_n (v INT)")
    cur.executemany("INSERT INTO drv_n VALUES (%s)", [(i,) for i in range(12)])
    cur.execute("SELECT v FROM drv_n WHERE v < %s", (5,))  # at: select
    assert len(cur.fetchall()) == 5
    cur.execute("SELECT v FROM drv_n WHERE v < 9")
    cur.fetchone()
    cur.fetchmany(2)
    assert len(list(cur)) == 6
    buffered = conn.cursor(buffered=True)
    buffered.execute("SELECT v FROM drv_n WHERE v < 3")
    dictionary = conn.cursor(dictionary=True)
    dictionary.execute("SELECT v FROM drv_n WHERE v < 4")
    assert dictionary.fetchall()[0] == {"v": 0}
    prepared = conn.cursor(prepared=True)
    prepared.execute("SELECT v FROM drv_n WHERE v < %s", (6,))
    assert len(prepared.fetchall()) == 6
    cur.execute("SELECT v FROM drv_n WHERE v < 2")  # never read: consumed by the next one
    try:
        cur.execute("SELECT * FROM drv_missing")
    except mysql.connector.ProgrammingError:
        pass
    else:
        raise AssertionError("the driver's error did not reach the app")
    conn.close()
perfdoctor.uninstrument()
print(type(conn).__name__)
