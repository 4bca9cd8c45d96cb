"""Process analytics: statistics computed in SQL (``queries``), the event log for process mining (``eventlog``),
their CSV/XLSX rendering (``tables``), and a simulated history to measure them on (``simulation``)."""
