"""Pure statistics: functions of numpy arrays, with thin wrappers taking a Run."""
