"""The conformance suite's report: the type matrix's outcomes after the summary."""


def pytest_terminal_summary(terminalreporter):
    from tests.conformance import test_type_matrix
    lines = test_type_matrix.report_lines()
    if lines:
        terminalreporter.section("type matrix")
        for line in lines:
            terminalreporter.write_line(line)
