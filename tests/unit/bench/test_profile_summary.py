"""bench/profile.py's summary of py-spy's collapsed stacks: own time per frame and area."""

from __future__ import annotations

from collections import Counter

from bench.profile import charged, markdown, read_stacks, stack_area, summarise

ROOT = "_run_code (<frozen runpy>:88);main (impulse_stream/cli.py:251)"
CORE = "CPyDef_engine___DecisionEngine___apply (__native_7c1e.c)"
STACKS = Counter(
    {
        # the compiled core calling into the interpreter: charged to the core's frame
        f"{ROOT};{CORE};Py_DECREF (object.h:537)": 6,
        # the garbage collector, wherever it runs
        f"{ROOT};{CORE};PyObject_Malloc (obmalloc.c:1);gc_collect_main (gcmodule.c:1)": 3,
        # redis-py's write through the event loop: the Redis client's area
        f"{ROOT};execute (redis/asyncio/client.py:1);write (asyncio/streams.py:2);"
        "send (libc.so.6)": 1,
    }
)


def test_samples_are_charged_to_the_innermost_code_frame_or_the_collector():
    frames = f"{ROOT};{CORE};Py_DECREF (object.h:537)".split(";")
    assert charged(frames) == ("CPyDef_engine___DecisionEngine___apply", "__native_7c1e.c")
    gc = f"{ROOT};{CORE};gc_collect_main (gcmodule.c:1)".split(";")
    assert charged(gc)[0].startswith("gc_collect_main")


def test_event_loop_frames_count_for_the_client_that_called_them():
    frames = f"{ROOT};execute (redis/asyncio/client.py:1);write (asyncio/streams.py:2)"
    assert stack_area(frames.split(";")) == "Redis client (redis-py, hiredis)"


def test_shares_are_scaled_to_the_measured_cpu_per_event():
    p = summarise(STACKS, "worker", events=1000, rate=100, cpu_us_per_event=200.0)
    assert p.samples == 10
    assert [(f.function, f.samples, f.us_per_event) for f in p.top] == [
        ("CPyDef_engine___DecisionEngine___apply", 6, 120.0),
        ("gc_collect_main (the garbage collector)", 3, 60.0),
        ("write", 1, 20.0),
    ]
    assert p.areas == {
        "decision core (core/, mypyc)": 120.0,
        "garbage collector": 60.0,
        "Redis client (redis-py, hiredis)": 20.0,
    }
    assert "| `gc_collect_main (the garbage collector)` |" in markdown(p)


def test_only_stacks_under_the_given_frame_count():
    p = summarise(STACKS, "backtest", events=10, rate=100, cpu_us_per_event=None, under="execute")
    assert p.samples == 1
    assert p.top[0].us_per_event == 1e6 / 100 / 10  # no CPU measured: samples / rate / events


def test_collapsed_stacks_are_read_with_their_counts(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("a (x.py:1);b (y.py:2) 5\na (x.py:1);b (y.py:2) 2\nc (z.py:3) 1\n")
    assert read_stacks(path) == Counter({"a (x.py:1);b (y.py:2)": 7, "c (z.py:3)": 1})


def test_the_prototype_report_gives_medians_and_the_ratio_of_the_two_stores():
    from bench.prototypes.measure import report

    def stage(store, redis_us, all_us):
        return {"store": store, "cpu_us": {"Redis": redis_us}, "all_stages_us": all_us,
                "output_hash": "h"}  # fmt: skip

    def drain(contender, eps, cpu, x=None):
        return {"contender": contender, "events_per_second": eps, "cpu_us_per_event": cpu,
                "x_passthrough": x, "redis_commands_per_event": 1.0}  # fmt: skip

    results = {
        "events": 1000,
        "batch": 100,
        "stages": [
            stage("redis-store", 80, 200),
            stage("batch-lua", 20, 140),
            stage("redis-store", 100, 220),
            stage("batch-lua", 30, 150),
        ],
        "stages_redis_contents_identical": [True, True],
        "drain": [drain("passthrough", 20000, 20)]
        + [drain(f"worker/{n}", 2000, 250, 0.1) for n in ("shipped", "batch-lua", "gc")]
        + [drain("worker/batch-lua+gc", 2200, 230, 0.11)],
    }
    text = report(results)
    assert "redis-store                       90.0       210.0" in text
    assert "batch-lua                         25.0       145.0" in text
    assert "batch-lua / redis-store           0.28        0.69" in text
    assert "outputs, states and Redis contents identical: yes" in text
    assert "worker/batch-lua+gc" in text and "0.110" in text
