//! Headlines read from outputs as failing jobs print them.

use super::*;

/// Each output and the headline a person wants to read from it.
const CORPUS: &[(&str, &str, &str)] = &[
    (
        "python traceback",
        r#"Starting nightly export
Traceback (most recent call last):
  File "/app/export.py", line 42, in <module>
    main()
  File "/app/export.py", line 38, in main
    rows = fetch(conn)
           ^^^^^^^^^^^
  File "/app/db.py", line 12, in fetch
    raise ValueError(f"unexpected column {name!r}")
ValueError: unexpected column 'tenant'
"#,
        "ValueError: unexpected column 'tenant'",
    ),
    (
        "python chained exceptions",
        r#"Traceback (most recent call last):
  File "/app/sync.py", line 8, in connect
    return psycopg2.connect(dsn)
psycopg2.OperationalError: connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/sync.py", line 20, in <module>
    connect()
  File "/app/sync.py", line 10, in connect
    raise SyncAborted("database unreachable after 3 attempts")
app.errors.SyncAborted: database unreachable after 3 attempts
"#,
        "app.errors.SyncAborted: database unreachable after 3 attempts",
    ),
    (
        "node uncaught error under npm",
        "> app@1.0.0 cron\n> node jobs/digest.js\n\n/app/jobs/digest.js:17\n    throw new Error(`SMTP rejected: ${res.code}`);\n    ^\n\nError: SMTP rejected: 550\n    at sendAll (/app/jobs/digest.js:17:11)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at async main (/app/jobs/digest.js:30:3) {\n  code: 550,\n  response: '550 mailbox unavailable'\n}\n\nNode.js v20.11.1\nnpm ERR! code 1\nnpm ERR! path /app\nnpm ERR! command failed\nnpm ERR! command sh -c node jobs/digest.js\n",
        "Error: SMTP rejected: 550",
    ),
    (
        "node error with a code",
        "node:internal/modules/esm/resolve:853\n  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);\n        ^\n\nError [ERR_MODULE_NOT_FOUND]: Cannot find package 'pg' imported from /app/job.mjs\n    at packageResolve (node:internal/modules/esm/resolve:853:9)\n    at moduleResolve (node:internal/modules/esm/resolve:910:20) {\n  code: 'ERR_MODULE_NOT_FOUND'\n}\n\nNode.js v20.11.1\n",
        "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'pg' imported from /app/job.mjs",
    ),
    (
        "go panic",
        "2025/01/31 02:00:01 starting rollup for 1204 tenants\npanic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.rollup({0xc000012345, 0x3, 0x3})\n\t/src/rollup/main.go:48 +0x1d\nmain.main()\n\t/src/rollup/main.go:21 +0x65\nexit status 2\n",
        "panic: runtime error: index out of range [5] with length 3",
    ),
    (
        "go log.Fatal",
        "2025/01/31 02:00:01 connecting to warehouse\n2025/01/31 02:00:31 dial tcp 10.1.2.3:5439: connect: connection refused\nexit status 1\n",
        "2025/01/31 02:00:31 dial tcp 10.1.2.3:5439: connect: connection refused",
    ),
    (
        "shell set -e with a two-line complaint",
        "+ mkdir -p /backups/2025-01-31\n+ tar czf /backups/2025-01-31/db.tgz /var/lib/db\ntar: /var/lib/db: Cannot open: Permission denied\ntar: Error is not recoverable: exiting now\n",
        "tar: /var/lib/db: Cannot open: Permission denied · tar: Error is not recoverable: exiting now",
    ),
    (
        "shell command not found",
        "Rotating logs\n./rotate.sh: line 12: logrotat: command not found\n",
        "./rotate.sh: line 12: logrotat: command not found",
    ),
    (
        "pg_dump with a hint below the error",
        "pg_dump: error: connection to server at \"db\" (10.0.0.5), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n",
        "pg_dump: error: connection to server at \"db\" (10.0.0.5), port 5432 failed: Connection refused",
    ),
    (
        "ruby",
        "I, [2025-01-31T02:00:00.123 #42]  INFO -- : syncing invoices\n/app/jobs/sync.rb:14:in `fetch': 503 \"Service Unavailable\" (Net::HTTPFatalError)\n\tfrom /app/jobs/sync.rb:30:in `block in run'\n\tfrom /app/jobs/sync.rb:29:in `each'\n\tfrom /app/jobs/sync.rb:29:in `<main>'\n",
        "Net::HTTPFatalError: 503 \"Service Unavailable\"",
    ),
    (
        "ruby 3.4",
        "/app/jobs/sync.rb:14:in 'Sync#fetch': undefined method 'id' for nil (NoMethodError)\n\tfrom /app/jobs/sync.rb:30:in '<main>'\n",
        "NoMethodError: undefined method 'id' for nil",
    ),
    (
        "java root cause",
        "Exception in thread \"main\" java.lang.IllegalStateException: report failed\n\tat com.acme.Report.run(Report.java:40)\n\tat com.acme.Main.main(Main.java:12)\nCaused by: java.sql.SQLException: Cannot get connection\n\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)\n\t... 2 more\nCaused by: java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n\tat java.base/sun.nio.ch.Net.connect(Net.java:579)\n\t... 5 more\n",
        "java.net.ConnectException: Connection refused",
    ),
    (
        "java without a cause",
        "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)\n",
        "java.lang.OutOfMemoryError: Java heap space",
    ),
    (
        "rust panic",
        "Loading 3 files\nthread 'main' panicked at src/main.rs:27:41:\ncalled `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: \"No such file or directory\" }\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        "thread 'main' panicked at src/main.rs:27:41: called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: \"No such file or directory\" }",
    ),
    (
        "an error logged before the summary line",
        "2025-01-31 02:00:00 INFO  starting\n2025-01-31 02:00:04 ERROR upload of part 3 failed: HTTP 503\n2025-01-31 02:00:05 INFO  wrote summary to /var/log/job.json\n",
        "2025-01-31 02:00:04 ERROR upload of part 3 failed: HTTP 503",
    ),
    (
        "make under colour codes",
        "\u{1b}[1;31merror[E0425]\u{1b}[0m: cannot find value `x` in this scope\n  --> src/main.rs:2:5\nmake: *** [Makefile:3: build] Error 101\n",
        "error[E0425]: cannot find value `x` in this scope",
    ),
    (
        "progress bar redrawn with carriage returns",
        "downloading  10%\r downloading 100%\nchecksum mismatch for dump.sql.gz\n",
        "checksum mismatch for dump.sql.gz",
    ),
    (
        "the scheduler's answer from an HTML error page",
        "HTTP 502 Bad Gateway (expected 2xx): <html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>",
        "HTTP 502 Bad Gateway (expected 2xx): <html>",
    ),
    ("one plain line", "exit status 3", "exit status 3"),
    (
        "nothing telling: the last line",
        "copied 3 files\nskipped 2 files\n",
        "skipped 2 files",
    ),
];

#[test]
fn headlines_name_the_error_in_real_outputs() {
    for (case, output, want) in CORPUS {
        assert_eq!(
            error_headline(output).as_deref(),
            Some(*want),
            "{case}:\n{output}"
        );
    }
}

#[test]
fn a_headline_is_one_line_within_its_limit() {
    assert_eq!(error_headline(""), None);
    assert_eq!(error_headline(" \n\t\n^^^\n"), None);
    let long = format!("Error: {}", "the disk is full ".repeat(40));
    let headline = error_headline(&format!("{long}\n    at main (/app/x.js:1:1)\n")).unwrap();
    assert!(headline.chars().count() <= HEADLINE_MAX_CHARS, "{headline}");
    assert!(
        headline.starts_with("Error: the disk is full"),
        "{headline}"
    );
    assert!(headline.ends_with('…') && !headline.contains('\n'));
    let tabs = error_headline("ERROR:\tbackup\t\tfailed  \r\n").unwrap();
    assert_eq!(tabs, "ERROR: backup failed");
}

#[test]
fn an_error_long_before_the_end_gives_way_to_the_last_lines() {
    let output = format!(
        "ERROR: first attempt failed, retrying\n{}upload incomplete after retries\n",
        "uploaded part\n".repeat(60)
    );
    assert_eq!(
        error_headline(&output).as_deref(),
        Some("upload incomplete after retries")
    );
}

#[test]
fn stored_errors_keep_the_headline_their_tail_would_lose() {
    // A Java root cause followed by more frames than the kept tail holds.
    let frames = "\tat com.acme.pool.Pool.borrow(Pool.java:120)\n".repeat(60);
    let output = format!(
        "Exception in thread \"main\" java.lang.IllegalStateException: report failed\n{frames}Caused by: java.net.ConnectException: Connection refused (password=hunter2)\n{frames}"
    );
    let stored = error_snippet(&output).unwrap();
    assert!(stored.len() <= ERROR_MAX_BYTES, "{}", stored.len());
    assert!(
        stored.starts_with("Caused by: java.net.ConnectException"),
        "{stored}"
    );
    assert!(!stored.contains("hunter2"), "redacted: {stored}");
    assert!(
        stored.ends_with("(Pool.java:120)"),
        "the tail stays: {stored}"
    );
    let headline = error_headline(&stored).unwrap();
    assert!(
        headline.starts_with("java.net.ConnectException: Connection refused (password=***"),
        "{headline}"
    );
    // When the tail holds it, the stored error is just the tail.
    let short = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'id'\n";
    assert_eq!(error_snippet(short).as_deref(), Some(short.trim()));
}
