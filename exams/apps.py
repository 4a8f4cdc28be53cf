from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "exams"
    verbose_name = "Exams"

    def ready(self) -> None:
        from exams import clock

        clock.connect()  # begin, resume and extend schedule the deadline's job
