"""Template filters of the proctoring pages (`{% load timing %}`): how times are shown."""
