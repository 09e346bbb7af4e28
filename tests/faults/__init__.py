"""The fault suite (issue #12): hostile servers, pages, answers, files and processes.

Every case asserts the exit code, a one-line message, and that no finished result
is lost. Servers listen on loopback only, and every loop is bounded in time.
"""
