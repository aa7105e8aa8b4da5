"""Helpers the tests share: config, data, servers, runs and objectives. Never test files."""
