"""DuckDB's side of `cargo bench --bench read`: one report of `log4rs-audit report`, as SQL.

Run by benches/read.rs with the venv of scripts/install-bench-peers.sh, one fresh process per
report and round. Reads a JSON spec on stdin:

    {"report": "last-activity", "files": ["/tmp/…/audit.log.20", …], "check": true}

(`--version` prints DuckDB's version and exits.) Answers the report's question with `read_json`
over the same NDJSON files, materialised into a temp table (`CREATE TEMP TABLE result AS …`),
and prints one JSON object on stdout:

    {"duckdb": "2.0.1", "threads": 2, "seconds": …, "cpuSeconds": …, "maxRssKb": …, "idleRssKb": …,
     "rows": [...] or "summary": {...}}

- `seconds`: `connect()` through the end of the `CREATE TEMP TABLE … AS` (the scan, the
  grouping, the result held in DuckDB); Python's start and `import duckdb` are not counted.
  `cpuSeconds`: user + system time of all threads over the same span.
- `maxRssKb`: the process's peak resident set (VmHWM), Python and DuckDB included; `idleRssKb`: the same right after `import duckdb`, before any query.
- with `"check": true`, `rows` (every report but exports: all result rows, in the query's
  order) or `summary` (exports: counts, see exports_summary) for the bench to compare with ours.

Rules (docs/reading.md, src/query/reports*.rs) and how each is written here:

- the files are log files (the `{"severity","logger","message","mdc","timestamp"}` envelope,
  what `log4rs-audit demo` writes); Event Server lines (`clientEvent`, topic from folders) are
  not handled by this SQL;
- `read_json` gets the columns each query needs (`columns=`, no sampling); keys not listed are
  skipped, as our reader skips them;
- user: `authUser`, else the MDC's `user`; topic: the logger's `dku.audit.<topic>`;
- time: `timestamp` cast to TIMESTAMPTZ (an event whose timestamp does not cast is left out, as
  ours leaves out events without a readable time; DuckDB's cast also takes a bare date, ours does
  not: no such line in the demo's trail);
- ties: our reports break ties of the same millisecond by reading order (last-activity: the
  later line is the latest event; exports: a sample read in the same millisecond counts as
  "before" only if read before, and rows of the same millisecond keep their reading order).
  SQL rows have no reading order (read_json has no line number), so ties are left to DuckDB
  (`arg_max`, ASOF `>=`): those columns are not compared (see the bench's checks).
"""

import json
import resource
import sys
import time

import duckdb


def q(text):
    return "'" + text.replace("'", "''") + "'"


def source(files, columns):
    cols = ", ".join(f"{q(k)}: {q(v)}" for k, v in columns.items())
    listed = ", ".join(q(f) for f in files)
    return f"read_json([{listed}], format = 'newline_delimited', columns = {{{cols}}})"


USER = 'coalesce(message."authUser", mdc."user")'
TIME = 'epoch_ms(try_cast("timestamp" AS TIMESTAMPTZ))'
TOPIC = """CASE WHEN starts_with(logger, 'dku.audit.') THEN substr(logger, 11)
                WHEN starts_with(logger, 'dku::audit::') THEN substr(logger, 13) END"""


def topic_is(name):
    return f"logger IN ('dku.audit.{name}', 'dku::audit::{name}')"


def last_activity(files):
    src = source(
        files,
        {
            "logger": "VARCHAR",
            "timestamp": "VARCHAR",
            "message": 'STRUCT("msgType" VARCHAR, "authUser" VARCHAR)',
            "mdc": 'STRUCT("user" VARCHAR)',
        },
    )
    # One row per user: the latest event (arg_max over the time; ties: any of them) and the
    # count; most recent first, ties by user.
    return f"""
    WITH ev AS (
        SELECT {USER} AS "user", {TIME} AS t,
               {{'ts': "timestamp", 'msgType': message."msgType", 'topic': {TOPIC}}} AS latest
        FROM {src})
    SELECT "user", arg_max(latest, t).ts AS "lastTime", arg_max(latest, t)."msgType" AS "msgType",
           arg_max(latest, t).topic AS topic, count(*) AS events
    FROM ev WHERE "user" IS NOT NULL AND t IS NOT NULL
    GROUP BY "user" ORDER BY max(t) DESC, "user"
    """


SAMPLE_READ = "dataset-read-data-sample"
READ_BY_CODE = "dataset-read-data"


def exports_events(files):
    src = source(
        files,
        {
            "timestamp": "VARCHAR",
            "message": 'STRUCT("msgType" VARCHAR, "authUser" VARCHAR, "projectKey" VARCHAR, "datasetName" VARCHAR)',
            "mdc": 'STRUCT("user" VARCHAR)',
        },
    )
    return f"""
        SELECT message."msgType" AS "msgType", {USER} AS "user", message."projectKey" AS project,
               message."datasetName" AS dataset, "timestamp" AS ts, {TIME} AS t
        FROM {src}
        WHERE message."msgType" IN ('dataset-export', 'project-export-download',
                                    '{SAMPLE_READ}', '{READ_BY_CODE}')
    """


def exports(files):
    # Closest honest SQL of "a sample read before the export": the latest sample read by the
    # same user of the same project (and dataset, for an export naming one) at the same
    # millisecond or earlier (ASOF join on t >= t). Ours also requires, within the same
    # millisecond, that the sample read was *read* before the export; SQL has no reading order
    # here, so a same-millisecond sample read read after the export counts as before. The
    # bench checks ours' yes count lies between the strictly-earlier count and this one.
    return f"""
    WITH ev AS MATERIALIZED (
        SELECT * FROM ({exports_events(files)}) WHERE t IS NOT NULL),
    samples AS (
        SELECT "user", project, coalesce(dataset, '') AS dataset, t, ts FROM ev
        WHERE "msgType" = '{SAMPLE_READ}' AND "user" IS NOT NULL AND project IS NOT NULL),
    ex AS (
        SELECT "msgType", "user", project,
               CASE WHEN "msgType" = 'dataset-export' THEN dataset END AS dataset, ts, t
        FROM ev WHERE "msgType" IN ('dataset-export', 'project-export-download')),
    named AS (   -- a dataset export: a sample of that dataset
        SELECT e.*, s.ts AS "sampleReadAt", s.dataset AS "sampleDataset"
        FROM (SELECT * FROM ex WHERE dataset IS NOT NULL) e
        ASOF LEFT JOIN samples s
          ON e."user" = s."user" AND e.project = s.project AND e.dataset = s.dataset AND e.t >= s.t),
    whole AS (   -- a project export (no dataset): a sample of any dataset of the project
        SELECT e.*, s.ts AS "sampleReadAt", s.dataset AS "sampleDataset"
        FROM (SELECT * FROM ex WHERE dataset IS NULL) e
        ASOF LEFT JOIN samples s
          ON e."user" = s."user" AND e.project = s.project AND e.t >= s.t),
    reads AS (   -- reads by code: one row per user, project and dataset, at the first read
        SELECT arg_min({{'ts': ts, 'user': "user", 'project': project, 'dataset': dataset}}, t) AS first,
               min(t) AS t, count(*) AS n
        FROM ev WHERE "msgType" = '{READ_BY_CODE}'
        GROUP BY coalesce("user", ''), coalesce(project, ''), coalesce(dataset, ''))
    SELECT "time", "msgType", "user", project, dataset, "sampleReadBefore", "sampleReadAt",
           "sampleDataset", "readsByCode"
    FROM (
        SELECT ts AS "time", "msgType", "user", project, dataset,
               "sampleReadAt" IS NOT NULL AS "sampleReadBefore", "sampleReadAt", "sampleDataset",
               NULL::BIGINT AS "readsByCode", t
        FROM (SELECT * FROM named UNION ALL SELECT * FROM whole)
        UNION ALL
        SELECT first.ts, '{READ_BY_CODE}', first."user", first.project, first.dataset,
               NULL, NULL, NULL, n, t
        FROM reads)
    ORDER BY t
    """


# What the bench compares for exports (the rows themselves are too many to ship, and their
# same-millisecond order is DuckDB's).
def exports_summary(con, files):
    summary = dict(
        zip(
            ["rows", "datasetExports", "projectExports", "readsByCodeRows", "readsByCode", "sampleReadBefore"],
            con.execute(
                """SELECT count(*),
                          count(*) FILTER (WHERE "msgType" = 'dataset-export'),
                          count(*) FILTER (WHERE "msgType" = 'project-export-download'),
                          count("readsByCode"), coalesce(sum("readsByCode"), 0)::BIGINT,
                          count(*) FILTER (WHERE "sampleReadBefore")
                   FROM result"""
            ).fetchone(),
        )
    )
    # The lower bound: exports with a sample read at a strictly earlier millisecond.
    con.execute(
        f"""CREATE TEMP TABLE samples AS
            SELECT "user", project, coalesce(dataset, '') AS dataset, min(t) AS t
            FROM ({exports_events(files)})
            WHERE "msgType" = '{SAMPLE_READ}' AND "user" IS NOT NULL AND project IS NOT NULL
              AND t IS NOT NULL
            GROUP BY ALL"""
    )
    summary["sampleReadStrictlyBefore"] = con.execute(
        f"""SELECT count(*) FROM result r
            WHERE r."readsByCode" IS NULL AND EXISTS (
                SELECT 1 FROM samples s
                WHERE s."user" = r."user" AND s.project = r.project
                  AND (r.dataset IS NULL OR s.dataset = r.dataset)
                  AND s.t < {TIME.replace('"timestamp"', 'r."time"')})"""
    ).fetchone()[0]
    return summary


def usage(files):
    src = source(
        files,
        {
            "timestamp": "VARCHAR",
            "origAddress": "VARCHAR",
            "message": 'STRUCT("authUser" VARCHAR)',
            "mdc": 'STRUCT("user" VARCHAR)',
        },
    )
    # The period is the date as written (its own offset); node: origAddress, else 'local'.
    return f"""
    SELECT substr("timestamp", 1, 10) AS period, coalesce("origAddress", 'local') AS node,
           count(DISTINCT {USER}) AS "activeUsers", count(*) AS events
    FROM {src}
    WHERE regexp_matches("timestamp", '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
    GROUP BY ALL ORDER BY period, node
    """


def authfail(files):
    src = source(
        files,
        {
            "logger": "VARCHAR",
            "timestamp": "VARCHAR",
            "origAddress": "VARCHAR",
            "message": 'STRUCT("authUser" VARCHAR, "sourceIp" VARCHAR)',
            "mdc": 'STRUCT("user" VARCHAR)',
        },
    )
    # The most failures within any 10-minute window (ours: t_end - t_start < 600000 ms):
    # a RANGE window of 599999 ms before each failure, its peers included. Burst: 5 or more.
    return f"""
    WITH f AS (
        SELECT coalesce({USER}, '-') AS "user",
               coalesce(message."sourceIp", "origAddress", '-') AS source,
               "timestamp" AS ts, {TIME} AS t
        FROM {src} WHERE {topic_is('authfail')}),
    w AS (
        SELECT *, count(*) OVER (PARTITION BY "user", source ORDER BY t
                                 RANGE BETWEEN 599999 PRECEDING AND CURRENT ROW) AS in_window
        FROM f WHERE t IS NOT NULL)
    SELECT "user", source, count(*) AS failures, arg_min(ts, t) AS "first", arg_max(ts, t) AS "last",
           max(in_window) AS "maxInWindow", max(in_window) >= 5 AS burst
    FROM w GROUP BY "user", source ORDER BY failures DESC, "user", source
    """


def cru(files):
    lp = 'STRUCT("userTimeMS" DOUBLE, "systemTimeMS" DOUBLE, "childrenUserTimeMS" DOUBLE, "childrenSystemTimeMS" DOUBLE, "rssMBSeconds" DOUBLE)'
    src = source(
        files,
        {
            "message": f'STRUCT("msgType" VARCHAR, "authUser" VARCHAR, "computeResourceUsage" STRUCT("startTime" DOUBLE, "endTime" DOUBLE, "localProcess" {lp}))',
            "mdc": 'STRUCT("user" VARCHAR)',
        },
    )
    # Per user (the default --by): usages, CPU (user + system, children included), rssMBSeconds,
    # wall (end - start where both); most CPU first.
    return f"""
    WITH u AS (
        SELECT coalesce({USER}, '-') AS "user", message."computeResourceUsage" AS c
        FROM {src} WHERE message."msgType" = 'compute-resource-usage-complete')
    SELECT "user", count(*) AS usages,
           sum(coalesce(c."localProcess"."userTimeMS", 0) + coalesce(c."localProcess"."systemTimeMS", 0)
               + coalesce(c."localProcess"."childrenUserTimeMS", 0)
               + coalesce(c."localProcess"."childrenSystemTimeMS", 0)) AS "cpuMs",
           sum(coalesce(c."localProcess"."rssMBSeconds", 0)) AS "rssMBSeconds",
           sum(coalesce(c."endTime" - c."startTime", 0)) AS "wallMs"
    FROM u GROUP BY "user" ORDER BY "cpuMs" DESC, "user"
    """


def apinode(files):
    src = source(
        files,
        {
            "logger": "VARCHAR",
            "message": 'STRUCT("msgType" VARCHAR, "routingKey" VARCHAR, "error" VARCHAR, "latencyMs" DOUBLE)',
        },
    )
    # Failures: events with a non-null `error`. Percentiles: nearest rank over the exact values
    # (the ceil(p * n)-th smallest), as ours.
    return f"""
    WITH g AS (
        SELECT coalesce(message."routingKey", '-') AS service, coalesce(message."msgType", '-') AS "msgType",
               count(*) AS queries, count(message."error") AS failures,
               list_sort(list(message."latencyMs") FILTER (WHERE message."latencyMs" IS NOT NULL)) AS l
        FROM {src} WHERE {topic_is('apinode-query')}
        GROUP BY ALL)
    SELECT service, "msgType", queries, failures,
           l[greatest(1, ceil(0.50 * len(l))::BIGINT)] AS "p50Ms",
           l[greatest(1, ceil(0.95 * len(l))::BIGINT)] AS "p95Ms",
           l[greatest(1, ceil(0.99 * len(l))::BIGINT)] AS "p99Ms"
    FROM g ORDER BY service, "msgType"
    """


# Settings per report, applied after connect().
SETTINGS = {
    # The planner estimates the filtered left side of the ASOF joins below 64 rows and then
    # runs them as a nested loop join (quadratic: 3.5x slower on 0.1 GB, hopeless on 2 GB);
    # with the threshold at 0 it uses its ASOF join (sort-merge) whatever the estimate.
    "exports": ["SET asof_loop_join_threshold = 0"],
}

REPORTS = {
    "last-activity": last_activity,
    "exports": exports,
    "usage": usage,
    "authfail": authfail,
    "cru": cru,
    "apinode": apinode,
}


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_kb():
    # The peak resident set of this process's memory (VmHWM, KiB). Not getrusage's ru_maxrss:
    # Linux carries that over exec() from the parent (the bench), whose peak it would report.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    if sys.argv[1:] == ["--version"]:
        print(duckdb.__version__)
        return
    spec = json.load(sys.stdin)
    files = spec["files"]
    if spec["report"] not in REPORTS:
        sys.exit(f"read_duckdb.py: no SQL for report {spec['report']!r}: add it to REPORTS")
    sql = REPORTS[spec["report"]](files)
    if spec.get("print_sql"):
        print(sql, file=sys.stderr)
    idle = rss_kb()
    cpu = cpu_seconds()
    start = time.perf_counter()
    con = duckdb.connect()
    for setting in SETTINGS.get(spec["report"], []):
        con.execute(setting)
    con.execute(f"CREATE TEMP TABLE result AS {sql}")
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    out = {
        "duckdb": duckdb.__version__,
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
        "seconds": seconds,
        "cpuSeconds": cpu,
        "maxRssKb": rss_kb(),
        "idleRssKb": idle,
    }
    if spec.get("check"):
        if spec["report"] == "exports":
            out["summary"] = exports_summary(con, files)
        else:
            cur = con.execute("SELECT * FROM result")
            names = [d[0] for d in cur.description]
            out["rows"] = [dict(zip(names, row)) for row in cur.fetchall()]
    json.dump(out, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
