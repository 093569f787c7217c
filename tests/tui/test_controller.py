"""The run's state machine (tui/controller.py) without Textual: a fake port, fake Experiments.

Every state of ``RunController.state`` and every transition a key, a worker's end or a
message makes, driven by hand: no App, no Pilot, no thread.  The views are the recorded
screens of tests/screens, moved to the iteration and status each test needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from tui_support import RECORDED, views_from_json

from engine.config import Config
from tui.controller import DEFAULT_COMPARE, STATES, RunController, allowed

CONFIG = Config(tensorboard=False)
FIRST = views_from_json(json.loads((RECORDED / "first.json").read_text()))
COMPARED = views_from_json(json.loads((RECORDED / "compared.json").read_text()))
Status = type(FIRST[0].snapshot.status)


def moved(view: Any, iteration: int, status: str = "running", loss: float | None = 1.0) -> Any:
    """``view`` at another iteration and status (the arrays stay as recorded)."""
    snapshot = dataclasses.replace(
        view.snapshot, iteration=iteration, status=Status(status), loss=loss
    )
    return dataclasses.replace(view, snapshot=snapshot)


class FakeExperiment:
    """What the controller asks of an Experiment, with views it is told."""

    def __init__(self, config: Config = CONFIG, views: Any = None, fail: Exception | None = None):
        self.config = config
        self._views = tuple(views or (COMPARED if config.compare else FIRST))
        self.theory = SimpleNamespace(lr_max=1.2, optimal_loss=0.6971)
        self.problem = SimpleNamespace(describe=lambda: "toy: n=50, d=13, m=3", data=None)
        self.steps = self.resets = 0
        self.closed = False
        self.fail = fail

    @property
    def comparing(self) -> bool:
        return bool(self.config.compare)

    @property
    def session(self) -> Any:
        return SimpleNamespace(descent=SimpleNamespace(status=self._views[0].snapshot.status))

    @property
    def descents(self) -> list[Any]:
        return [view.snapshot for view in self._views]

    @property
    def finished(self) -> bool:
        return all(view.snapshot.status.finished for view in self._views)

    def views(self) -> tuple[Any, ...]:
        return self._views

    def step(self) -> None:
        if self.fail is not None:
            raise self.fail
        self.steps += 1
        self._views = tuple(moved(v, v.snapshot.iteration + 1) for v in self._views)

    def reset(self) -> None:
        self.resets += 1
        self._views = tuple(moved(v, 0, "ready", None) for v in self._views)

    def close(self) -> None:
        self.closed = True


class FakeWorker:
    def __init__(self, kind: str, *args: Any) -> None:
        self.kind, self.args = kind, args
        self.error: BaseException | None = None
        self.result: Any = None


class FakePort:
    """The App's side, as lists: what was started, shown, said and asked."""

    def __init__(self) -> None:
        self.started: list[FakeWorker] = []
        self.waited: list[tuple[str, float | None]] = []
        self.notes: list[tuple[str, str]] = []
        self.titles: list[str] = []
        self.shown: list[tuple[str, Any]] = []
        self.changes: list[tuple[bool, bool, bool]] = []
        self.later: list[Any] = []
        self.asked: list[tuple[str, Any]] = []
        self.refusals: list[tuple[Any, Any, str]] = []
        self.cleared = 0
        self.quitting = False

    def _start(self, kind: str, *args: Any) -> FakeWorker:
        worker = FakeWorker(kind, *args)
        self.started.append(worker)
        return worker

    def start_load(self, config: Config, reuse: Any) -> FakeWorker:
        return self._start("load", config, reuse)

    def start_run(self, experiment: Any, epoch: int, stop: threading.Event) -> FakeWorker:
        return self._start("run", experiment, epoch, stop)

    def start_save(self, experiment: Any, path: str) -> FakeWorker:
        return self._start("save", experiment, path)

    async def wait(self, worker: FakeWorker, timeout: float | None) -> None:
        self.waited.append((worker.kind, timeout))

    def notify(self, text: str, *, title: str = "", severity: str = "information", timeout=None):
        self.notes.append((severity, text))
        self.titles.append(title)

    def call_later(self, callback: Any) -> None:
        self.later.append(callback)

    def clear_notifications(self) -> None:
        self.cleared += 1

    def show_config(self, config: Config) -> None:
        self.shown.append(("config", config))

    def show_theory(self, lr_max: float | None) -> None:
        self.shown.append(("theory", lr_max))

    def show_mode(self, comparing: bool) -> None:
        self.shown.append(("mode", comparing))

    def changed(self, everything: bool = False, at_once: bool = True, force: bool = False):
        self.changes.append((everything, at_once, force))

    def show_refusal(self, config: Any, error: Any, text: str) -> None:
        self.refusals.append((config, error, text))

    def ask_compare(self, rates: Any) -> None:
        self.asked.append(("compare", tuple(rates)))

    def ask_save_path(self, path: str) -> None:
        self.asked.append(("save", path))

    def leaving(self) -> bool:
        return self.quitting

    # -- for the tests --------------------------------------------------------------------

    def last(self, kind: str) -> FakeWorker:
        return [worker for worker in self.started if worker.kind == kind][-1]

    def count(self, kind: str) -> int:
        return sum(worker.kind == kind for worker in self.started)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def new(config: Config = CONFIG, **options: Any) -> tuple[RunController, FakePort]:
    port = FakePort()
    return RunController(config, port, **options), port


def loaded(config: Config = CONFIG, experiment: FakeExperiment | None = None, **options: Any):
    """A controller whose first Experiment has loaded: ready at iteration 0."""
    controller, port = new(config, **options)
    controller.start_load(config)
    run(controller.loaded(experiment or FakeExperiment(config), config))
    return controller, port


def running(config: Config = CONFIG, experiment: FakeExperiment | None = None):
    controller, port = loaded(config, experiment)
    run(controller.toggle_run())
    assert controller.state == "running"
    return controller, port


# -- loading ---------------------------------------------------------------------------------


def test_it_says_loading_until_the_first_experiment_is_built():
    controller, port = new()
    assert controller.state == "loading" and controller.status_info().state == "loading…"
    controller.start_load(CONFIG)
    assert port.last("load").args == (CONFIG, None)
    assert controller.load_progress is None  # the toy data: nothing to read
    assert controller.state == "loading" and not controller.idle
    assert port.changes[-1] == (False, True, False)


def test_loaded_the_run_is_ready_and_the_panels_show_its_settings():
    controller, port = new()
    controller.start_load(CONFIG)
    experiment = FakeExperiment()
    run(controller.loaded(experiment, CONFIG))
    assert controller.state == "ready" and controller.idle
    assert controller.experiment is experiment and controller.views == FIRST
    assert ("config", CONFIG) in port.shown and ("theory", 1.2) in port.shown
    assert ("mode", False) in port.shown
    assert controller.epoch == 1
    assert port.changes[-1] == (True, True, True)  # every panel, drawn at once


def test_what_the_loader_learned_is_said_once_per_new_data():
    data = SimpleNamespace(source="/d/x.csv", lines=lambda: ["2 rows dropped (empty cells)"])
    experiment = FakeExperiment()
    experiment.problem = SimpleNamespace(data=data)
    controller, port = loaded(experiment=experiment)
    assert port.notes == [("information", "/d/x.csv: 2 rows dropped (empty cells)")]
    assert port.titles == ["data"]
    again = FakeExperiment(CONFIG.replace(learning_rate=0.1))
    again.problem = experiment.problem  # the same data, reused
    run(controller.apply(again.config))
    run(controller.loaded(again, again.config))
    assert len(port.notes) == 1


def test_a_file_being_read_says_how_far():
    config = CONFIG.replace(data="/some/where/data.csv")
    controller, port = new(config)
    controller.start_load(config)
    assert controller.load_progress == "loading /some/where/data.csv…"
    controller.data_progress("/some/where/data.csv", 0.5)
    assert controller.load_progress == "reading data.csv 50%"
    assert port.changes[-1] == (False, False, False)  # when the status line is due
    controller.data_progress("/some/where/data.csv", 1.0)
    assert controller.load_progress == "loaded data.csv"
    assert controller.status_info().data == "loaded data.csv"


def test_progress_after_the_load_ended_is_dropped():
    controller, port = loaded()
    controller.data_progress("late.csv", 0.5)
    assert controller.load_progress is None


def test_keys_pressed_while_loading_wait_and_run_in_order_once_loaded():
    controller, port = new()
    controller.start_load(CONFIG)
    run(controller.step())
    run(controller.step())
    controller.save()
    assert controller.pending == ["step", "step", "save"]
    experiment = FakeExperiment()
    run(controller.loaded(experiment, CONFIG))
    assert experiment.steps == 2 and controller.state == "paused"
    assert port.asked == [("save", port.asked[0][1])]  # the save prompt comes last
    assert not controller.pending


def test_a_load_that_fails_before_any_run_means_nothing_can_start():
    controller, port = new()
    controller.start_load(CONFIG)
    run(controller.step())
    worker = port.last("load")
    worker.error = OSError("no such file")
    controller.worker_ended(worker, "error")
    assert controller.state == "failed"
    assert controller.engine_error == "OSError: no such file"
    assert controller.status_info().state == "cannot start: OSError: no such file"
    assert port.notes[-1] == ("error", "the engine could not load: OSError: no such file")
    assert port.titles[-1] == "amal-tui"
    assert not controller.pending  # the step that waited is dropped
    run(controller.step())  # and a key now says why it does nothing
    assert port.notes[-1] == ("error", "the engine did not load: nothing to run")
    assert not controller.pending


def test_a_cancelled_load_says_cancelled():
    controller, port = new()
    controller.start_load(CONFIG)
    controller.worker_ended(port.last("load"), "cancelled")
    assert controller.engine_error == "cancelled"


def test_functions_that_fail_the_check_show_the_report():
    from engine.student.refusal import FunctionsRefused

    config = CONFIG.replace(functions="/students/mine.py")
    controller, port = new(config)
    controller.start_load(config)
    worker = port.last("load")
    worker.error = FunctionsRefused("the Functions of mine.py fail the check", "✗ Linear")
    controller.worker_ended(worker, "error")
    assert port.refusals == [(config, worker.error, "the Functions of mine.py fail the check")]
    assert port.notes[-1] == ("error", "the Functions of mine.py fail the check")
    assert controller.state == "failed"


def test_new_settings_that_fail_leave_the_run_on_screen():
    controller, port = loaded()
    run(controller.step())
    run(controller.scale_learning_rate(10))
    assert controller.state == "loading"  # the run stays on screen meanwhile
    worker = port.last("load")
    worker.error = ValueError("bad")
    controller.worker_ended(worker, "error")
    assert controller.state == "paused" and controller.config == CONFIG
    assert port.notes[-1] == ("error", "cannot use these settings: ValueError: bad")
    assert port.shown[-2:] == [("config", CONFIG), ("theory", 1.2)]


def test_settings_applied_while_others_load_are_built_next():
    controller, port = loaded()
    run(controller.scale_learning_rate(10))
    first = port.last("load")
    run(controller.scale_learning_rate(10))  # applied while the first loads
    assert port.count("load") == 2  # one load at a time
    wanted = CONFIG.replace(learning_rate=1.0)
    assert controller.wanted == wanted
    stale = FakeExperiment(first.args[0])
    run(controller.loaded(stale, first.args[0]))
    assert stale.closed and port.count("load") == 3
    assert port.last("load").args[0] == wanted
    assert controller.state == "loading"
    run(controller.loaded(FakeExperiment(wanted), wanted))
    assert controller.config == wanted and controller.state == "ready"


def test_a_failed_load_builds_the_settings_asked_for_meanwhile():
    controller, port = loaded()
    run(controller.scale_learning_rate(10))
    run(controller.scale_learning_rate(10))
    worker = port.last("load")
    worker.error = ValueError("bad")
    controller.worker_ended(worker, "error")
    assert port.last("load").args[0] == CONFIG.replace(learning_rate=1.0)
    assert controller.state == "loading"


def test_the_end_of_a_replaced_worker_is_ignored():
    controller, port = loaded()
    stale = FakeWorker("load")
    stale.error = ValueError("old")
    controller.worker_ended(stale, "error")
    controller.worker_ended(FakeWorker("run"), "error")
    controller.worker_ended(FakeWorker("save"), "error")
    assert controller.state == "ready" and not port.notes


def test_new_data_forget_the_old_theory_until_they_load():
    controller, port = loaded()
    run(controller.apply(CONFIG.replace(seed=7)))  # another draw of the toy data
    assert port.shown[-2:] == [("config", CONFIG.replace(seed=7)), ("theory", None)]
    shown = len(port.shown)
    run(controller.apply(CONFIG.replace(learning_rate=0.1)))
    assert port.shown[shown:] == [("config", CONFIG.replace(learning_rate=0.1))]


# -- stepping, running, pausing --------------------------------------------------------------


def test_a_step_from_ready_pauses_at_iteration_1():
    controller, port = loaded()
    epoch = controller.epoch
    run(controller.step())
    assert controller.state == "paused" and controller.experiment.steps == 1
    assert controller.epoch == epoch + 1  # a run's late messages are dropped
    assert controller.views[0].snapshot.iteration == 1


def test_r_runs_and_r_again_pauses_after_the_chunk():
    controller, port = loaded()
    run(controller.toggle_run())
    worker = port.last("run")
    experiment, epoch, stop = worker.args
    assert controller.state == "running" and controller.running
    assert epoch == controller.epoch and not stop.is_set()
    run(controller.toggle_run())
    assert stop.is_set() and not controller.running
    assert controller.run_worker is worker  # it stops after its chunk
    controller.worker_ended(worker, "success")
    assert controller.run_worker is None
    assert port.changes[-1] == (True, True, True)


def test_a_run_that_stopped_midway_is_paused_and_resumes_with_a_new_epoch():
    controller, port = running()
    first = port.last("run")
    controller.run_progress(controller.epoch, (moved(FIRST[0], 40),), at=1.0)
    run(controller.toggle_run())
    controller.worker_ended(first, "success")
    controller.experiment._views = (moved(FIRST[0], 40),)
    controller.show_experiment()
    assert controller.state == "paused"
    run(controller.toggle_run())
    second = port.last("run")
    assert second is not first and second.args[1] == first.args[1] + 1
    assert second.args[2] is not first.args[2]  # a fresh stop event


def test_a_step_while_running_stops_the_run_first():
    controller, port = running()
    worker = port.last("run")
    run(controller.step())
    assert port.waited == [("run", None)] and worker.args[2].is_set()
    assert controller.run_worker is None and controller.experiment.steps == 1
    assert controller.state == "paused"


def test_a_run_that_ends_by_itself_shows_how():
    for status in ("converged", "capped", "diverged"):
        experiment = FakeExperiment()
        controller, port = running(experiment=experiment)
        experiment._views = (moved(FIRST[0], 12, status),)
        controller.worker_ended(port.last("run"), "success")
        assert controller.state == status
        assert controller.status_info().state == status


def test_a_finished_run_does_not_step_or_run_again_until_reset():
    experiment = FakeExperiment(views=(moved(FIRST[0], 1475, "converged"),))
    controller, port = loaded(experiment=experiment)
    assert controller.state == "converged"
    run(controller.step())
    assert port.notes[-1] == ("information", "the run has converged: x resets it")
    run(controller.toggle_run())
    assert port.count("run") == 0 and experiment.steps == 0
    run(controller.reset())
    assert experiment.resets == 1 and controller.state == "ready"


def test_reset_stops_the_run_and_starts_over():
    controller, port = running()
    epoch = controller.epoch
    controller.announced.add(0)
    run(controller.reset())
    assert port.waited == [("run", None)]
    assert controller.experiment.resets == 1 and controller.epoch == epoch + 1
    assert controller.state == "ready" and not controller.announced


def test_no_run_starts_while_the_app_leaves():
    controller, port = loaded()
    port.quitting = True
    run(controller.toggle_run())
    assert port.count("run") == 0 and controller.state == "ready"


def test_a_run_that_fails_says_why_and_shows_where_it_stopped():
    controller, port = running()
    worker = port.last("run")
    worker.error = RuntimeError("boom\nmore")
    controller.worker_ended(worker, "error")
    assert port.notes[-1] == ("error", "the run stopped: RuntimeError: boom")
    assert controller.run_worker is None and controller.state == "ready"


def test_a_students_functions_that_raise_are_named_as_theirs():
    config = CONFIG.replace(functions="/students/mine.py")
    experiment = FakeExperiment(config, fail=ValueError("shapes"))
    controller, port = loaded(config, experiment)
    run(controller.step())
    severity, text = port.notes[-1]
    assert severity == "error" and text.startswith("your Functions raised: ")
    assert "ValueError: shapes" in text
    assert controller.state == "ready"  # shown as it stands


def test_progress_of_an_older_run_is_dropped():
    controller, port = running()
    controller.run_progress(controller.epoch - 1, (moved(FIRST[0], 99),), at=1.0)
    assert controller.views == FIRST
    controller.run_progress(controller.epoch, (moved(FIRST[0], 99),), at=1.0)
    assert controller.views[0].snapshot.iteration == 99
    assert port.changes[-1] == (True, False, False)  # when each panel is due


def test_steps_per_second_is_measured_over_the_last_second_while_running():
    controller, port = running()
    assert controller.steps_per_second() is None  # one point is no pace
    for at, iteration in ((0.0, 10), (0.5, 60), (1.0, 110), (2.0, 310)):
        controller.run_progress(controller.epoch, (moved(FIRST[0], iteration),), at=at)
    assert controller.steps_per_second() == pytest.approx(200.0)  # (310 - 110) / 1 s
    assert controller.status_info().steps_per_second == pytest.approx(200.0)
    run(controller.toggle_run())
    assert controller.steps_per_second() is None  # paused: no pace


def test_brackets_change_the_speed_and_forget_the_old_pace():
    controller, port = loaded(speed=10)
    controller.rate.append((0.0, 1))
    controller.change_speed(1)
    assert controller.speed == 30 and not controller.rate
    assert controller.status_info().speed == "30/s"
    controller.change_speed(-1)
    controller.change_speed(-1)
    assert controller.speed == 3
    with pytest.raises(ValueError):
        RunController(CONFIG, FakePort(), speed=0)


# -- what is announced -----------------------------------------------------------------------


def test_a_run_that_ends_is_announced_once():
    experiment = FakeExperiment(views=(moved(FIRST[0], 1475, "converged", 0.69),))
    controller, port = loaded(experiment=experiment)
    controller.announce()
    controller.announce()
    assert [text for _, text in port.notes] == ["converged at 1475"]
    run(controller.reset())
    experiment._views = (moved(FIRST[0], 3, "diverged", None),)
    controller.show_experiment()
    controller.announce()
    assert port.notes[-1] == ("warning", "diverged at 3")


def test_a_comparison_announces_once_every_run_has_ended_in_the_tables_order():
    config = CONFIG.replace(compare=(0.0001, 0.01, 0.5))
    views = (moved(COMPARED[0], 500), moved(COMPARED[1], 500), COMPARED[2])
    experiment = FakeExperiment(config, views)
    controller, port = loaded(config, experiment)
    controller.announce()
    assert not port.notes  # 0.5 converged, the others still go
    experiment._views = COMPARED
    controller.show_experiment()
    controller.announce()
    assert port.notes == [
        ("warning", "ε 0.0001: capped at 1001"),
        ("warning", "ε 0.01: capped at 1001"),
        ("information", "ε 0.5: converged at 30"),
    ]


# -- comparing -------------------------------------------------------------------------------


def test_compare_proposes_the_notebooks_rates_then_the_last_ones():
    controller, port = new()
    controller.compare()  # before the engine loads, too
    assert port.asked == [("compare", DEFAULT_COMPARE)]
    controller, port = loaded()
    run(controller.compare_chosen(None))  # escape
    assert port.count("load") == 1
    run(controller.compare_chosen((0.01, 0.5)))
    assert controller.wanted == CONFIG.replace(compare=(0.01, 0.5))
    assert port.last("load").args[0] == CONFIG.replace(compare=(0.01, 0.5))
    controller.compare()
    assert port.asked[-1] == ("compare", (0.01, 0.5))


def test_an_empty_compare_goes_back_to_one_run_only_when_comparing():
    controller, port = loaded()
    run(controller.compare_chosen(()))
    assert port.count("load") == 1  # already one run
    config = CONFIG.replace(compare=(0.01, 0.5))
    controller, port = loaded(config)
    assert controller.comparing
    run(controller.compare_chosen(()))
    assert port.last("load").args[0] == config.replace(compare=())


def test_a_comparison_is_ready_runs_pauses_and_finishes():
    config = CONFIG.replace(compare=(0.0001, 0.01, 0.5))
    start = tuple(moved(view, 0, "ready", None) for view in COMPARED)
    experiment = FakeExperiment(config, start)
    controller, port = loaded(config, experiment)
    assert ("mode", True) in port.shown and controller.state == "ready"
    run(controller.toggle_run())
    assert controller.state == "running"
    half = (moved(COMPARED[0], 30), moved(COMPARED[1], 30), COMPARED[2])
    controller.run_progress(controller.epoch, half, at=1.0)
    run(controller.toggle_run())
    experiment._views = half
    controller.worker_ended(port.last("run"), "success")
    assert controller.state == "paused"  # one run ended, the others did not
    experiment._views = COMPARED
    controller.show_experiment()
    assert controller.state == "finished"
    run(controller.step())
    assert port.notes[-1] == ("information", "every run has stopped: x resets them")


def test_plus_and_minus_scale_the_learning_rate_but_not_while_comparing():
    controller, port = loaded()
    run(controller.scale_learning_rate(0.1))
    assert controller.wanted == CONFIG.replace(learning_rate=0.001)
    assert port.cleared == 1  # the last settings' notes are stale
    assert port.shown[-1] == ("config", CONFIG.replace(learning_rate=0.001))
    controller, port = loaded(CONFIG.replace(learning_rate=1e38))  # ×10: past float32
    run(controller.scale_learning_rate(10))
    assert port.notes[-1][0] == "warning" and port.notes[-1][1].startswith("learning rate ")
    assert port.count("load") == 1
    controller, port = loaded(CONFIG.replace(compare=(0.01, 0.5)))
    run(controller.scale_learning_rate(10))
    assert port.notes[-1] == ("warning", "comparing learning rates: c changes them")


def test_a_field_applied_builds_its_settings():
    controller, port = running()
    run(controller.apply_setting("seed", 3))
    assert port.waited == [("run", None)]  # the run stops before the settings change
    assert port.last("load").args[0] == CONFIG.replace(seed=3)


# -- saving ----------------------------------------------------------------------------------


def test_saving_pauses_the_run_then_resumes_it():
    controller, port = running()
    controller.save()
    kind, path = port.asked[-1]
    assert kind == "save" and path.startswith("amal-runs/amal-run-") and path.endswith(".json")
    run(controller.save_chosen("/tmp/run.json"))
    worker = port.last("save")
    assert worker.args[1] == "/tmp/run.json" and port.waited == [("run", None)]
    assert controller.state == "saving" and controller.status_info().state == "saving…"
    run(controller.step())  # a key while saving waits
    assert controller.pending == ["toggle_run", "step"]
    worker.result = ("/tmp/run.json", "/tmp/run.losses.csv")
    controller.worker_ended(worker, "success")
    assert port.notes[-1] == ("information", "saved in /tmp/run.json and /tmp/run.losses.csv")
    assert port.titles[-1] == "saved" and controller.last_save_path is None
    (drain,) = port.later
    run(drain())
    assert controller.state == "paused" and controller.experiment.steps == 1
    assert port.count("run") == 2  # resumed, then stopped by the step


def test_a_failed_save_says_why_and_proposes_the_same_path_again():
    controller, port = loaded()
    run(controller.save_chosen("/tmp/run.json"))
    worker = port.last("save")
    worker.error = OSError("disk full")
    controller.worker_ended(worker, "error")
    assert port.notes[-1] == ("error", "not saved: OSError: disk full")
    assert controller.state == "ready"
    controller.save()
    assert port.asked[-1] == ("save", "/tmp/run.json")


def test_a_save_asked_while_busy_or_cancelled_does_nothing():
    controller, port = loaded()
    run(controller.save_chosen(None))
    assert port.count("save") == 0
    run(controller.scale_learning_rate(10))  # loading
    run(controller.save_chosen("/tmp/run.json"))
    assert port.count("save") == 0
    assert port.notes[-1] == ("warning", "busy loading or saving: press e again in a moment")


def test_e_before_the_engine_loads_waits_for_it():
    controller, port = new()
    controller.start_load(CONFIG)
    controller.save()
    assert controller.pending == ["save"] and not port.asked


# -- leaving ---------------------------------------------------------------------------------


def test_leaving_stops_the_run_within_its_bound_and_closes_the_experiment():
    controller, port = running()
    run(controller.stop_run(timeout=0.5))
    assert port.waited == [("run", 0.5)] and controller.run_worker is None
    experiment = controller.experiment
    controller.close_experiment(timeout=0.1)
    assert experiment.closed


def test_an_experiment_in_use_is_not_closed_past_the_bound():
    controller, port = loaded()
    with controller.session_lock:  # a chunk that does not end
        controller.close_experiment(timeout=0.01)
    assert not controller.experiment.closed


def test_new_settings_close_the_experiment_they_replace():
    controller, port = loaded()
    old = controller.experiment
    run(controller.apply(CONFIG.replace(seed=3)))
    run(controller.loaded(FakeExperiment(CONFIG.replace(seed=3)), CONFIG.replace(seed=3)))
    assert old.closed and controller.experiment is not old


# -- which keys act ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "covered", "in_field", "acts"),
    [
        ("step", False, False, True),
        ("step", True, False, False),  # behind a prompt, the help or a report
        ("quit", True, False, True),
        ("interrupt", True, False, True),
        ("scale_learning_rate", False, True, False),  # + and - are text in a field
        ("quit", False, True, False),  # q too
        ("interrupt", False, True, True),  # Ctrl+C never is
        ("toggle_run", False, True, True),
    ],
)
def test_which_keys_act_behind_a_screen_or_in_a_field(action, covered, in_field, acts):
    assert allowed(action, covered=covered, in_field=in_field) is acts


def test_every_state_is_reached_by_these_tests():
    """The states listed are the ones ``state`` returns (a new one needs its tests)."""
    assert set(STATES) == {
        "loading",
        "failed",
        "saving",
        "stepping",  # tests/tui/test_responsive.py
        "pausing",  # tests/tui/test_responsive.py
        "running",
        "ready",
        "paused",
        "converged",
        "capped",
        "diverged",
        "finished",
    }


@pytest.mark.parametrize("module", ["controller", "presenter", "redraw"])
def test_the_state_machine_and_the_words_are_plain_python(module):
    """No Textual in them: what they decide is tested here, the wiring by Pilot."""
    import ast
    from pathlib import Path

    import tui

    source = (Path(tui.__file__).parent / f"{module}.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    assert not {name for name in imported if name.split(".")[0] in ("textual", "rich")}
