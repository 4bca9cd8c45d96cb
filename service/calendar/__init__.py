"""The working-day calendar (工作日历): official public holidays and make-up working days (调休), seeded from
the ``chinesecalendar`` package, and the district's own closures. The engine's clock reads it through
:class:`service.engine.clock.WorkingCalendar` (see :func:`service.calendar.queries.load_calendar`)."""
