"""The end-to-end suite's report: every hostile input with its exit code and line."""


def pytest_terminal_summary(terminalreporter):
    from tests.e2e import test_hostile_input
    if not test_hostile_input.RESULTS:
        return
    terminalreporter.section("hostile input")
    for item, name, code, line in test_hostile_input.RESULTS:
        terminalreporter.write_line(f"  [{item:>2}] exit {code}  {name}: {line}")
