"""The DP vs DDP report of scripts/compare.sh, one module per job (standard library only).

    aggregate  the runs' JSON summaries -> the report's rows (median, min-max, time split)
    verdicts   the claims of the original table judged from those rows, and the paragraph
    markdown   the report as Markdown
    plots      gnuplot data and script (compare_speed.png, compare_split.png)
    table      what they share: the variants, the time split's parts, row look-up, errors
    fmt        how numbers are written

scripts/py/compare_report.py is the command line.
"""
