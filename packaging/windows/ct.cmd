@echo off
rem `ct` on PATH for cmd.exe and PowerShell: the installer puts this bin folder on the user PATH,
rem while ct.exe stays one level up next to its PyInstaller files. Arguments pass verbatim and
rem ct.exe's exit status is returned.
"%~dp0..\ct.exe" %*
exit /b %ERRORLEVEL%
