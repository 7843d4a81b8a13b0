# These are nova functional tests: real nova services in process, eventlet
# monkey patched, run with stestr or testtools (see base.py). pytest must
# not import them (it would monkey patch its own process).
collect_ignore_glob = ['test_*.py', 'base.py']
