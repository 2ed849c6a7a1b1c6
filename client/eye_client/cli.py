"""The `eye` command: send events, query them, follow them.

Configured by EYE_URL and EYE_KEY; --url and --key override them. Exit codes:

    0  success
    1  some events were not sent (an invalid input line, refused by the Eye, or given up
       on), or the Eye refused the query
    2  usage error: bad flags, EYE_URL or EYE_KEY missing
    3  the key is unknown or revoked, or lacks the right (401, 403)
    4  the Eye could not be reached, even after retrying
    130  interrupted (Ctrl-C) while sending; `eye tail` ends with Ctrl-C and exits 0
"""

import argparse
import json
import os
import stat
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from eye_client.client import Eye
from eye_client.errors import EyeConnectionError, EyeError, EyeHTTPError
from eye_client.ndjson import NotUtf8, first_line, parse_line
from eye_client.output import event_line, write_json, write_ndjson, write_table
from eye_client.progress import Progress
from eye_client.reports import Failure
from eye_client.tail import Follower
from eye_client.version import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

# Past this many, problems are counted rather than printed: a bad file has a bad line on
# every line, and the summary says how many.
MAX_PROBLEMS_SHOWN = 20
CLOSE_TIMEOUT = 30.0


class UsageError(Exception):
    pass


class Stop(Exception):
    """Leave with this exit code after printing this message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _common_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument("--url", default=default, help="the Eye's address (default: $EYE_URL)")
    parser.add_argument("--key", default=default, help="an API key (default: $EYE_KEY)")
    parser.add_argument(
        "--timeout", type=float, default=default, help="seconds per request (default 10)"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=default,
        help="retries after a 429, 5xx or network error (default 5)",
    )


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session-id", help="only this session (a UUID)")
    parser.add_argument("--category", help="only this category (exact)")
    parser.add_argument("--name", help="only this name (exact)")
    parser.add_argument(
        "--application",
        help="only this application's events, by name (for a key that reads every one)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eye",
        description="Send events to The Eye and read them back. "
        "Configured by EYE_URL and EYE_KEY; --url and --key override them.",
        epilog="Exit codes: 0 ok, 1 events not sent or query refused, 2 usage, 3 key refused, "
        "4 unreachable, 130 interrupted while sending (Ctrl-C ends tail with 0).",
    )
    parser.add_argument("--version", action="version", version=f"eye-client {__version__}")
    _common_options(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The same options after the command: SUPPRESS keeps them from hiding the ones given
    # before it.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, default=argparse.SUPPRESS)

    send = commands.add_parser(
        "send",
        parents=[common],
        help="send one event from flags, or NDJSON from a file or stdin",
        description="Send one event described by flags, or one event per line of NDJSON "
        "(from FILE, from '-', or from stdin when it is not a terminal).",
    )
    send.add_argument("source", nargs="?", help="an NDJSON file, or - for stdin")
    send.add_argument("--session-id", help="the session's UUID")
    send.add_argument("--category", help="the event's category")
    send.add_argument("--name", help="the event's name")
    send.add_argument("--data", help="a JSON object of custom values")
    send.add_argument("--timestamp", help="ISO 8601 (default: now)")
    send.add_argument("--event-id", help="the idempotency key (default: a new UUID)")
    send.add_argument("--batch-size", type=int, default=500, help="events per request (500)")
    send.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when reading a file and stderr is a terminal)",
    )

    query = commands.add_parser(
        "query",
        parents=[common],
        help="print events, newest first",
        description="Print the matching events, newest first.",
    )
    _filter_options(query)
    query.add_argument("--start", help="at or after this instant (a bare date: that day)")
    query.add_argument("--end", help="at or before this instant (a bare date: that whole day)")
    query.add_argument("--limit", type=int, default=None, help="at most N events (100)")
    query.add_argument("--all", action="store_true", help="every matching event")
    query.add_argument("--format", choices=("table", "json", "ndjson"), default="table")

    tail = commands.add_parser(
        "tail",
        parents=[common],
        help="print the newest events, then new ones as they arrive",
        description="Print the newest events, then poll for new ones until interrupted. "
        "Events stored more than --lookback seconds after their timestamp are missed.",
    )
    _filter_options(tail)
    tail.add_argument("--interval", type=float, default=2.0, help="seconds between polls (2)")
    tail.add_argument("--lines", "-n", type=int, default=10, help="events shown first (10)")
    tail.add_argument(
        "--lookback", type=float, default=30.0, help="seconds of lateness tolerated (30)"
    )
    tail.add_argument("--format", choices=("text", "ndjson"), default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "send":
            return command_send(args)
        if args.command == "query":
            return command_query(args)
        return command_tail(args)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except Stop as exc:
        _say(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `eye query | head`: the reader has all it wants. Point stdout at /dev/null so
        # that the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _say(message: str) -> None:
    print(f"eye: {message}", file=sys.stderr, flush=True)


def connect(args: argparse.Namespace, **options: Any) -> Eye:
    url = getattr(args, "url", None) or os.environ.get("EYE_URL")
    key = getattr(args, "key", None) or os.environ.get("EYE_KEY")
    if not url:
        raise UsageError("no Eye address: set EYE_URL or pass --url")
    if not key:
        raise UsageError("no API key: set EYE_KEY or pass --key")
    timeout = getattr(args, "timeout", None) or 10.0
    retries = getattr(args, "retries", None)
    try:
        return Eye(
            url,
            key,
            timeout=timeout,
            max_retries=5 if retries is None else retries,
            **options,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _http_stop(exc: EyeError, doing: str) -> Stop:
    if isinstance(exc, EyeConnectionError):
        return Stop(EXIT_UNREACHABLE, str(exc))
    if isinstance(exc, EyeHTTPError) and exc.status == 401:
        return Stop(EXIT_AUTH, f"the Eye refused the key: {exc}")
    if isinstance(exc, EyeHTTPError) and exc.status == 403:
        return Stop(EXIT_AUTH, f"the key may not do that: {exc}")
    return Stop(EXIT_FAILED, f"the Eye refused {doing}: {exc}")


# eye send


def command_send(args: argparse.Namespace) -> int:
    flags = [args.session_id, args.category, args.name, args.data, args.timestamp, args.event_id]
    if any(value is not None for value in flags):
        if args.source is not None:
            raise UsageError("give either event flags or an NDJSON source, not both")
        return send_one(args)
    if args.source is None and sys.stdin.isatty():
        raise UsageError(
            "give --session-id, --category and --name, or NDJSON lines: "
            "eye send events.ndjson, or eye send - < events.ndjson"
        )
    return send_ndjson(args)


def send_one(args: argparse.Namespace) -> int:
    missing = [
        flag
        for flag, value in (
            ("--session-id", args.session_id),
            ("--category", args.category),
            ("--name", args.name),
        )
        if value is None
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}")
    data = None
    if args.data is not None:
        try:
            data = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--data is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError('--data must be a JSON object, like \'{"path": "/"}\'')
    failures: list[Failure] = []
    with connect(args, on_failure=failures.append, batch_size=1) as eye:
        try:
            event_id = eye.track(
                args.session_id,
                args.category,
                args.name,
                data=data,
                timestamp=args.timestamp,
                event_id=args.event_id,
            )
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        eye.close(CLOSE_TIMEOUT)
    if eye.stats.sent == 1:
        print(event_id)
        return EXIT_OK
    failure = failures[0] if failures else None
    if failure is None:
        raise Stop(EXIT_FAILED, "the event was not sent")
    raise Stop(_exit_code_of(failure), f"the event was not sent: {failure.reason}")


def _exit_code_of(failure: Failure) -> int:
    if failure.status in (401, 403):
        return EXIT_AUTH
    if failure.kind == "dropped" and failure.status is None:
        return EXIT_UNREACHABLE
    return EXIT_FAILED


class LineIds:
    """Event ids that remember the input line they were made for.

    A refusal comes back with the event, not the line, and a map from id to line for a
    file of millions of events would cost hundreds of megabytes. So a generated id is a
    random uuid4 whose last 48 bits (the node field, which holds no version bits) are the
    line number, under a prefix drawn once per run. Ids given in the input are remembered
    in a map; files rarely carry them.
    """

    LINE_BITS = (1 << 48) - 1

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().int & ~self.LINE_BITS
        self._given: dict[str, int] = {}

    def new(self, line: int) -> str:
        return str(uuid.UUID(int=self._prefix | (line & self.LINE_BITS)))

    def given(self, event_id: str, line: int) -> None:
        self._given[_canonical(event_id)] = line

    def line_of(self, event_id: str) -> int | None:
        canonical = _canonical(event_id)
        if canonical in self._given:
            return self._given[canonical]
        try:
            value = uuid.UUID(canonical).int
        except ValueError:
            return None
        if value & ~self.LINE_BITS == self._prefix:
            return value & self.LINE_BITS
        return None


def _canonical(event_id: str) -> str:
    try:
        return str(uuid.UUID(str(event_id).strip()))
    except ValueError:
        return str(event_id)


class SendReport:
    """Problems of an NDJSON send, printed as they come (up to a limit) and summed up."""

    def __init__(self, ids: LineIds) -> None:
        self.ids = ids
        self.lock = threading.Lock()
        self.shown = 0
        self.invalid = 0
        self.worst_exit = EXIT_OK
        self.stop = threading.Event()

    def problem(self, message: str) -> None:
        with self.lock:
            self.shown += 1
            show = self.shown <= MAX_PROBLEMS_SHOWN
        if show:
            _say(message)

    def bad_line(self, line: int, message: str) -> None:
        self.invalid += 1
        self.problem(f"line {line}: {message}")

    def on_failure(self, failure: Failure) -> None:
        """Called from the client's sender thread."""
        code = _exit_code_of(failure)
        with self.lock:
            self.worst_exit = max(self.worst_exit, code)
        if code in (EXIT_AUTH, EXIT_UNREACHABLE):
            # Every later batch would fail the same way; stop reading the input.
            self.stop.set()
        lines = [self.ids.line_of(str(event.get("event_id"))) for event in failure.events]
        known = sorted(line for line in lines if line is not None)
        if len(failure.events) == 1:
            where = f"line {known[0]}" if known else f"event {failure.events[0].get('event_id')}"
        elif known:
            where = f"{len(failure.events)} events (lines {known[0]}-{known[-1]})"
        else:
            where = f"{len(failure.events)} events"
        self.problem(f"{where}: {failure.kind}: {failure.reason}")


def _open_source(source: str | None) -> tuple[BinaryIO, int | None]:
    """The input and, for a regular file, its size (for the progress bar)."""
    if source is None or source == "-":
        stream: BinaryIO = sys.stdin.buffer
    else:
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return stream, None
    return stream, info.st_size if stat.S_ISREG(info.st_mode) else None


def send_ndjson(args: argparse.Namespace) -> int:
    if not 1 <= args.batch_size <= 1000:
        raise UsageError("--batch-size must be between 1 and 1000")
    stream, size = _open_source(args.source)
    ids = LineIds()
    report = SendReport(ids)
    enabled = args.progress if args.progress is not None else bool(size and sys.stderr.isatty())
    progress = Progress(sys.stderr, total_bytes=size, enabled=enabled)
    # "block": a file must not lose events because it is read faster than it is sent.
    eye = connect(args, on_failure=report.on_failure, batch_size=args.batch_size, on_full="block")
    bytes_read = read = 0
    interrupted = False
    # The line it stopped reading before, when it gave up or was stopped midway.
    stopped_before: int | None = None
    # The last line handed to the client whole. Ctrl-C mostly lands while a line waits
    # for room in the buffer, before it is in: that line was not sent.
    handled = 0
    try:
        for line_number, raw in enumerate(stream, start=1):
            if report.stop.is_set():
                stopped_before = line_number
                break
            bytes_read += len(raw)
            if line_number == 1:
                try:
                    raw = first_line(raw)
                except NotUtf8 as exc:
                    raise Stop(EXIT_FAILED, f"{exc}; nothing was sent") from None
            if raw.strip():
                read += _track_line(eye, raw, line_number, ids, report)
            handled = line_number
            if progress.due():
                progress.update(bytes_read=bytes_read, read=read, sent=eye.stats.sent)
        # Wait for the acknowledgements in steps, so that the bar keeps moving. Each batch
        # ends within its retries, so this ends too; Ctrl-C stops it sooner.
        while not report.stop.is_set() and not eye.flush(timeout=0.2):
            progress.update(bytes_read=bytes_read, read=read, sent=eye.stats.sent)
    except KeyboardInterrupt:
        interrupted = True
        stopped_before = handled + 1
    finally:
        # After a refused key or an unreachable Eye, the rest would fail the same way, one
        # slow batch after another: give it up at once and say so.
        eye.close(0 if report.stop.is_set() else 5.0 if interrupted else CLOSE_TIMEOUT)
        if stream is not sys.stdin.buffer:
            stream.close()
    stats = eye.stats
    progress.finish(bytes_read=bytes_read, read=read, sent=stats.sent)
    # Events of a batch on its way when it stopped: neither answered nor given up on.
    unknown = read - stats.sent - stats.refused - stats.dropped
    summary = (
        f"sent {stats.sent:,} of {read:,} events"
        + (f", {stats.refused:,} refused" if stats.refused else "")
        + (f", {stats.dropped:,} not delivered" if stats.dropped else "")
        + (f", {unknown:,} not known to have arrived" if unknown > 0 else "")
        + (
            f"; stopped before line {stopped_before:,}: it and the lines after it were not sent"
            if stopped_before is not None
            else ""
        )
        + (f", {report.invalid:,} invalid lines" if report.invalid else "")
        + f" in {time.monotonic() - progress.started:.1f} s"
    )
    if report.shown > MAX_PROBLEMS_SHOWN:
        summary += f" ({report.shown - MAX_PROBLEMS_SHOWN:,} more problems not shown)"
    _say(summary)
    if interrupted:
        return EXIT_INTERRUPTED
    if report.worst_exit != EXIT_OK:
        return report.worst_exit
    return EXIT_FAILED if report.invalid or stats.sent < read else EXIT_OK


def _track_line(eye: Eye, raw: bytes, line_number: int, ids: LineIds, report: SendReport) -> int:
    """Track one input line; 1 if it was tracked, 0 if it was reported as invalid."""
    try:
        event = parse_line(raw)
        if event.get("event_id") is not None:
            ids.given(str(event["event_id"]), line_number)
        else:
            event["event_id"] = ids.new(line_number)
        eye.track(**event)
    except (TypeError, ValueError) as exc:
        report.bad_line(line_number, str(exc))
        return 0
    return 1


# eye query


def _filters(args: argparse.Namespace) -> dict[str, str]:
    given = {
        "session_id": args.session_id,
        "category": args.category,
        "name": args.name,
        "application": args.application,
    }
    return {key: value for key, value in given.items() if value is not None}


# Events `eye query` prints without --limit or --all.
DEFAULT_QUERY_LIMIT = 100


def command_query(args: argparse.Namespace) -> int:
    if args.all and args.limit is not None:
        raise UsageError("--limit and --all exclude each other: give one")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1 (or use --all)")
    limit = None if args.all else args.limit or DEFAULT_QUERY_LIMIT
    with connect(args) as eye:
        pages = eye.pages(
            **_filters(args),
            timestamp_start=args.start,
            timestamp_end=args.end,
            page_size=1000 if limit is None else min(limit, 1000),
        )
        total: list[int] = []

        def events() -> Iterable[dict[str, Any]]:
            given = 0
            for page in pages:
                total[:] = [page.count]
                for event in page.results:
                    if limit is not None and given >= limit:
                        return
                    yield event
                    given += 1

        writer = {"table": write_table, "json": write_json, "ndjson": write_ndjson}[args.format]
        try:
            written = writer(events(), sys.stdout)
        except EyeError as exc:
            raise _http_stop(exc, "the query") from None
        sys.stdout.flush()
    if args.format == "table":
        count = total[0] if total else 0
        if written == 0:
            _say("no events match")
        elif written < count:
            _say(f"{written:,} of {count:,} events, newest first (--limit or --all for more)")
        else:
            _say(f"{written:,} event{'' if written == 1 else 's'}")
    return EXIT_OK


# eye tail


def command_tail(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.lookback < 0 or args.lines < 0:
        raise UsageError("--interval must be positive, --lookback and --lines not negative")
    write = _tail_writer(args.format)
    with connect(args) as eye:
        follower = Follower(eye, _filters(args), lookback=args.lookback)
        try:
            try:
                for event in follower.start(args.lines):
                    write(event)
            except EyeError as exc:
                raise _http_stop(exc, "the query") from None
            while True:
                time.sleep(args.interval)
                try:
                    fresh = follower.poll()
                except EyeError as exc:
                    stop = _http_stop(exc, "the query")
                    if isinstance(exc, EyeConnectionError) or (
                        isinstance(exc, EyeHTTPError) and exc.status >= 500
                    ):
                        # An Eye that is away may come back; keep following.
                        _say(f"{stop} (still following)")
                        continue
                    raise stop from None
                for event in fresh:
                    write(event)
        except KeyboardInterrupt:
            return EXIT_OK


def _tail_writer(fmt: str) -> Callable[[dict[str, Any]], None]:
    def write(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False) if fmt == "ndjson" else event_line(event)
        print(line, flush=True)

    return write
