#!/usr/bin/env python3
"""Tests of scripts/lint-coroutines.py on small snippets: each rule must catch its pattern and leave the
allowed shapes alone."""
import importlib.util
import os
import sys
import unittest

_spec = importlib.util.spec_from_file_location(
    "lint_coroutines", os.path.join(os.path.dirname(os.path.abspath(__file__)), "lint-coroutines.py"))
lint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint)


def rules(code, path="src/http/example.cc"):
    return [rule for _, _, rule, _ in lint.lint_text(path, code)]


class Detached(unittest.TestCase):
    def test_detached_spawn_fails(self):
        self.assertEqual(rules("void f() { asio::co_spawn(ex, run(), asio::detached); }"), ["detached"])
        self.assertEqual(rules("void f() { co_spawn(ex, run(), boost::asio::detached); }"), ["detached"])

    def test_detached_in_a_comment_or_string_passes(self):
        self.assertEqual(rules("// asio::detached is banned\nconst char* s = \"asio::detached\";"), [])

    def test_tests_and_the_task_group_may_use_it(self):
        code = "void f() { asio::co_spawn(ex, run(), asio::detached); }"
        self.assertEqual(rules(code, "src/http/server_test.cc"), [])
        self.assertEqual(rules(code, "src/core/task_group.cc"), [])


class SpawnThis(unittest.TestCase):
    def test_a_lambda_capturing_this_fails(self):
        self.assertEqual(rules('void S::f() { tasks_.spawn(ex, "loop", [this](TaskGroup::Stop) { return loop(); }); }'),
                         ["spawn-this"])
        self.assertEqual(rules("void S::f() { asio::co_spawn(ex, [this, x]() -> awaitable<void> { co_return; }, tok); }"),
                         ["spawn-this"])

    def test_a_shared_pointer_capture_passes(self):
        self.assertEqual(rules('void S::f() { tasks_.spawn(ex, "c", [c](TaskGroup::Stop s) { return c->run(c, s); }); }'), [])

    def test_the_joined_owner_marker_allows_it(self):
        code = ('void S::f() {\n  tasks_.spawn(ex, "loop",\n'
                '               [this](TaskGroup::Stop) { return loop(); });  // lint: joined-owner\n}')
        self.assertEqual(rules(code), [])


class AwaitLambda(unittest.TestCase):
    def test_co_await_of_a_call_holding_a_lambda_fails(self):
        self.assertEqual(rules("awaitable<void> f() { auto r = co_await pool.run([&] { return g(); }); }"),
                         ["await-lambda"])
        self.assertEqual(rules("awaitable<Status> f() { co_return co_await asio::async_initiate<T, S>("
                               "[target](auto h) { target->go(std::move(h)); }, use_awaitable); }"),
                         ["await-lambda"])

    def test_co_await_inside_an_argument_list_with_a_lambda_fails(self):
        self.assertEqual(rules("awaitable<void> f() { g(co_await h(), [x] { return x; }); }"), ["await-lambda"])

    def test_named_first_passes(self):
        code = ("awaitable<void> f() {\n  auto job = [&] { return g(); };\n"
                "  auto r = co_await pool.run(std::move(job));\n  co_await t.async_wait(redirect_error(use_awaitable, ec));\n}")
        self.assertEqual(rules(code), [])

    def test_a_coroutine_lambda_body_passes(self):
        code = ('void f() { group.spawn(ex, "t", [r](TaskGroup::Stop) -> awaitable<void> {\n'
                '  co_await r->async_wait(redirect_error(use_awaitable, ec));\n}); }')
        self.assertEqual(rules(code), [])

    def test_subscripts_are_not_lambdas(self):
        self.assertEqual(rules("awaitable<void> f() { co_await handlers[i](x); }"), [])


class Repository(unittest.TestCase):
    def test_src_is_clean(self):
        findings = []
        for path in lint.iter_files([os.path.join(lint.ROOT, "src")]):
            with open(path, encoding="utf-8", errors="replace") as f:
                findings += lint.lint_text(os.path.relpath(path, lint.ROOT), f.read())
        self.assertEqual(findings, [])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=1)
