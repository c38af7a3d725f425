"""Background processes: start detached workers, track PID/status/log files, cancel."""
