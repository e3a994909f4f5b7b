import os

import pytest
import torch
from helpers import find_chromium

torch.set_num_threads(1)  # at import too: module-scoped fixtures run before the autouse one below


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same RNG state; one thread each (pytest-xdist runs two workers)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session", autouse=True)
def _gankit_cache(tmp_path_factory):
    """Trained classifiers and reference statistics go to one folder of this test session (shared by
    the xdist workers: their writes are atomic), never to the user's ~/.cache."""
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "gankit-cache"
    os.environ["GANKIT_CACHE"] = str(shared)
    yield


# --- the quick subset: `make test-quick` runs `pytest -m "not slow"` ---------------------------------------
# Tests marked slow here, by file and function name (every parametrized case of the function): those that took
# more than about 1.5 s each in `pytest --durations=0` run serially on the 2-core machine, under other load (so
# the numbers in the comments are high; what counts is their order). Rerun that to update the list; a test
# file is never edited for it. A file whose tests would all be slow keeps its first test in the quick subset
# (see pytest_collection_modifyitems), so that every file still runs at least once, except the files of
# ONLY_SLOW. A test that is quick itself but needs a costly module fixture, or is the first to fill the
# session's cache (GANKIT_CACHE), is listed too: otherwise the cost moves to it.
SLOW = {
    "test_benchmarks.py": {
        "test_fast_vs_eager_smoke_compares_both_paths",  # 21 s
        "test_throughput_smoke_prints_a_full_table",  # 12 s
        "test_stacked_ablation_smoke_prints_the_four_objectives",  # 100 s (two classifiers on a fresh cache)
        "test_ada_digits_smoke_prints_the_three_variants",  # 38 s
        "test_streaming_smoke_compares_in_memory_and_streamed",  # 10 s
        "test_cpu_speed_smoke_prints_the_step_rates_and_the_ring8_race",  # 12 s
        "test_live_speed_smoke_counts_steps_and_redraws",  # 8 s (chromium)
        "test_ema_quality_smoke_keeps_each_ramp_as_a_run_with_it_would",  # 12 s (two digits runs)
        # test_profile_step_smoke_names_the_costly_ops (7 s): the file's one test in the quick subset
    },
    "test_cli.py": {
        "test_default_train_is_digits_with_image_grids",  # 21 s
        "test_a_plugin_network_is_usable_by_every_command_with_import",  # 30 s (subprocesses; eval's classifier)
        "test_sample_takes_a_checkpoint_file_in_place_of_the_run",  # 4 s
        "test_resume_says_where_it_resumes_from",  # 3 s
        "test_a_run_writes_its_final_metrics_for_its_report",  # 13 s
        "test_without_a_terminal_training_prints_plain_progress_lines",  # 11 s
        "test_eval_reports_every_metric_with_its_floor_and_feature_network",  # 10 s
        "test_train_writes_a_run_directory",  # 7 s
        "test_console_script_runs",  # 6 s
        "test_train_writes_a_report_and_report_compares_runs",  # 6 s
        # quick themselves, but they need the module's digits_run (the default training, with the classifier's
        # metrics: trains the classifier on a fresh cache), 48 s in the quick subset when nothing above runs
        "test_sample_images",
        "test_eval_errors_are_one_line",
    },
    "test_api.py": {
        "test_own_networks_on_a_tensordataset_train_load_sample_and_resume_exactly",  # 3 s
        "test_a_dataset_of_pairs_gives_labels_and_a_preset_network",  # 2 s
    },
    "test_docs.py": {
        "test_own_networks_guide_runs",  # 10 s
        "test_own_images_guide_runs",  # 8 s (a streamed folder: a worker process)
    },
    "test_export.py": {
        "test_an_export_gives_what_the_generator_gives",  # 3-4 s a case (ONNX export)
    },
    "test_loggers.py": {
        "test_rows_carry_learning_rates_and_times_and_tensorboard_the_sample_grids",  # 5 s
        "test_wandb_offline_receives_the_rows_and_samples_and_a_resume_continues_its_run",  # 3 s
        "test_mlflow_file_store_receives_rows_params_and_samples_and_a_resume_continues_its_run",  # 2 s
    },
    "test_sources.py": {
        "test_a_streamed_folder_trains_and_resumes_bit_identically",  # 5 s (worker processes)
    },
    "test_config.py": {
        "test_deep_nesting_is_one_line",  # 3 s
    },
    "test_distributed.py": {  # all slow (two processes under torchrun): its first test stays quick
        "test_a_checkpoint_moves_between_two_processes_and_one",  # 34 s
        "test_batch_norm_networks_train_under_two_processes",  # 27 s
        "test_sync_bn_on_the_cpu_is_a_clear_error",  # 24 s
        "test_two_processes_match_one_with_the_global_batch",  # 15 and 16 s
    },
    "test_fast.py": {
        "test_the_training_step_reads_nothing_back_to_the_host",  # 23 s
        "test_compiled_networks_train_like_eager_ones",  # 3 s
    },
    "test_features.py": {
        "test_classifier_learns_digits_is_cached_and_leaves_the_rng_alone",  # 28 s
        "test_a_damaged_cached_floor_is_computed_again",  # 23 cases, 229 s in all
        "test_metrics_of_a_set_against_itself_are_perfect",  # 9 s
        "test_damaged_cached_reference_statistics_are_computed_again",  # 20 cases, 66 s in all
        "test_inception_from_a_weights_file_gives_2048_features",  # 5 s
        "test_a_cache_that_cannot_be_written_only_costs_time",  # 3 s
        "test_fresh_cache_entries_check_out_and_carry_their_digests",  # 2 s
        "test_floor_bounds_follow_from_the_metrics_math",  # 2 s
    },
    "test_figures.py": {
        "test_plotting_samples_no_generator",  # 4 s (a fresh interpreter importing matplotlib)
    },
    "test_readme.py": {
        "test_python_api_example_runs",  # 31 s (it trains the classifier): see ONLY_SLOW
    },
    "test_report.py": {
        "test_default_paths",  # 4 s
        "test_long_keys_many_keys_and_unencodable_text",  # 4 s
        "test_game_curves_only_for_the_minimax_family",  # 4 s
        "test_eval_json_from_training_is_shown_and_its_absence_is_no_error",  # 4 s
        "test_mathtext_in_names_and_keys_stays_plain_text",  # 4 s
        "test_config_that_cannot_be_read",  # 6 cases, 4 s in all
        "test_an_old_config_with_an_ema_decay_is_named_right",  # 3 s
        "test_metric_table_names_what_each_metric_was_measured_on",  # 2 s
        "test_page_renders_offline_in_chromium",  # 4 cases, 7 s in all (skipped without chromium)
        "test_training_with_an_ema_reports_both_generators",  # 2 s
        "test_metric_table_names_eval_jsons_generator",  # 7 cases, 5 s in all
        "test_metric_table_shows_the_raw_g_and_names_the_generator",  # 2 s
        "test_pages_import_no_layer_that_trains_or_samples",  # 10 s (a fresh interpreter writing pages)
    },
    "test_resume.py": {
        "test_sigkill_at_random_moments_never_loses_more_than_one_interval",  # 82 s
        "test_sigterm_stops_cleanly_and_resumes_exactly",  # 31 s
        "test_two_trainings_started_together_into_one_directory",  # 14 s
        "test_a_stderr_that_cannot_be_written_does_not_stop_training",  # 10 s
        "test_resume_cli_extends_a_finished_run",  # 5 s
        "test_resume_overrides_of_the_optimiser_take_effect",  # 2 cases, 6 s in all
        "test_an_ema_asked_for_on_resume_starts_from_g",  # 3 s
        "test_stop_and_resume_is_bit_identical_to_one_run",  # 4 cases, 7 s in all
        "test_a_run_stopped_before_its_first_checkpoint_can_be_started_again",  # 2 s
        "test_a_longer_resumed_run_follows_the_new_schedule_from_its_next_step",  # 2 s
    },
    "test_runs.py": {
        "test_eval_names_its_sample_count_and_features_and_density_is_best_near_1",  # 7 s
    },
    "test_session.py": {
        "test_a_driven_run_paused_checkpointed_and_resumed_ends_bit_identical_to_train",  # 4 s
    },
    "test_live.py": {
        "test_the_page_plays_pauses_and_takes_a_control_in_chromium",  # 5 s (chromium)
        "test_ctrl_c_stops_the_server_and_writes_the_checkpoint",  # 5 s (a subprocess)
    },
    "test_theory_instability.py": {
        "test_figures_are_written",  # 2-4 s (matplotlib)
        "test_collapse_rows_are_the_same_in_parallel_processes",  # 10 s (two spawned processes import torch)
    },
    "test_theory.py": {
        "test_gankit_theory_passes_every_row",  # 50 s
    },
    "test_train.py": {
        "test_short_training_learns_a_gaussian",  # 5 s
        "test_evaluation_during_training_does_not_change_training",  # 2 s
    },
}

# Files left out of the quick subset although none of their tests would be quick. test_readme.py: the README's
# example trains the digits preset, whose metrics need the feature classifier, trained once per session (a fresh
# GANKIT_CACHE): 30 s, half the quick subset's minute.
ONLY_SLOW = {"test_readme.py"}


def pytest_collection_modifyitems(config, items):
    """Mark the tests of SLOW slow, except the first test of a file that would be left with no quick test
    (unless the file is in ONLY_SLOW)."""
    by_file: dict[str, list] = {}
    for item in items:
        by_file.setdefault(item.path.name, []).append(item)
    for file, its in by_file.items():
        listed = [getattr(item, "originalname", item.name) in SLOW.get(file, ()) for item in its]  # any case
        if all(listed) and file not in ONLY_SLOW:
            listed[0] = False
        for item, slow in zip(its, listed):
            if slow:
                item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Chromium (the report's and gankit live's page tests). Installing it is the set-up's job
    (``make test``), never a test's."""
    found = find_chromium()
    if found is None:
        pytest.skip("chromium is not installed (make test installs it)")
    return found
