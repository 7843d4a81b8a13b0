"""The ``oslo.config.opts`` entry point's lists."""

from nova_migtuner.conf import opts


def test_list_opts_lists_one_migtuner_group_with_help():
    groups = opts.list_opts()
    assert [g for g, _ in groups] == ['migtuner']
    for opt in groups[0][1]:
        assert len(opt.help.strip()) > 40, opt.name
