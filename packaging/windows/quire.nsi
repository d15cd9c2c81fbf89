; Quire for Windows: NSIS installer around the PyInstaller folder (dist\quire).
;
;   makensis /DVERSION=0.1.0 /DPAYLOAD=dist\quire /DOUTFILE=packaging\out\Quire-0.1.0-setup.exe ^
;            /DICON=build\quire\quire.ico packaging\windows\quire.nsi
;
; PAYLOAD must hold quire.exe (console: the command line), quire-gui.exe (windowed: the
; window) and _internal\. ICON is optional (the spec writes build\quire\quire.ico).
;
; Install for the current user (default, no administrator rights, %LOCALAPPDATA%\Programs\Quire)
; or for all users (%ProgramFiles%\Quire), chosen on the first page or with /AllUsers or
; /CurrentUser on the command line; /S installs silently. Start-menu shortcut, optional desktop
; shortcut, an entry in Settings > Apps with an uninstaller. Uninstalling removes the program
; only: the library, index, settings and chats in %LOCALAPPDATA%\Quire stay.

Unicode true
ManifestDPIAware true
RequestExecutionLevel user  ; MultiUser raises it when "all users" is chosen
SetCompressor /SOLID lzma
SetCompressorDictSize 64

!ifndef VERSION
  !error "pass /DVERSION=x.y.z"
!endif
!ifndef PAYLOAD
  !error "pass /DPAYLOAD=<the PyInstaller folder with quire.exe and quire-gui.exe>"
!endif
!ifndef OUTFILE
  !define OUTFILE "Quire-${VERSION}-setup.exe"
!endif

!define APPNAME "Quire"
!define PUBLISHER "The Quire developers"
!define APPID "io.github.quire.Quire"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APPID}"
!define GUIEXE "quire-gui.exe"
!define CLIEXE "quire.exe"

; --- per-user or per-machine -------------------------------------------------------------
!define MULTIUSER_EXECUTIONLEVEL Highest
!define MULTIUSER_MUI
!define MULTIUSER_INSTALLMODE_COMMANDLINE
!define MULTIUSER_INSTALLMODE_DEFAULT_CURRENTUSER
!define MULTIUSER_INSTALLMODE_INSTDIR "${APPNAME}"
!define MULTIUSER_USE_PROGRAMFILES64
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_KEY "${UNINSTKEY}"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_VALUENAME "InstallMode"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_KEY "${UNINSTKEY}"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_VALUENAME "InstallLocation"
!include "MultiUser.nsh"
!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

Name "${APPNAME}"
OutFile "${OUTFILE}"
BrandingText "${APPNAME} ${VERSION}"

; Version resource of the setup program itself (a 4-part number; pre-release suffixes dropped).
!searchparse /noerrors "${VERSION}" "" V1 "." V2 "." V3
!ifndef V3
  !define V3 0
!endif
VIProductVersion "${V1}.${V2}.${V3}.0"
VIAddVersionKey "ProductName" "${APPNAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APPNAME} setup"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "Apache-2.0"

!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GUIEXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Open ${APPNAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MULTIUSER_PAGE_INSTALLMODE
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APPNAME} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  !insertmacro MULTIUSER_INIT
FunctionEnd

Function un.onInit
  SetRegView 64
  !insertmacro MULTIUSER_UNINIT
FunctionEnd

Section "!${APPNAME}" SecMain
  SectionIn RO
  ; An older version's files go first, so no stale library survives an upgrade. Only our
  ; own names are removed, never the folder's other contents.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${CLIEXE}"
  Delete "$INSTDIR\${GUIEXE}"

  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*.*"
  WriteUninstaller "$INSTDIR\Uninstall ${APPNAME}.exe"

  ; The Start-menu entry opens the window; its working folder is the user's profile.
  SetOutPath "$PROFILE"
  CreateShortcut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\${GUIEXE}" "" "$INSTDIR\${GUIEXE}" 0 \
      SW_SHOWNORMAL "" "Ask questions of the files on your own computer"

  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINSTKEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\${GUIEXE},0"
  WriteRegStr SHCTX "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINSTKEY}" "InstallMode" "$MultiUser.InstallMode"
  WriteRegStr SHCTX "${UNINSTKEY}" "UninstallString" '"$INSTDIR\Uninstall ${APPNAME}.exe" /$MultiUser.InstallMode'
  WriteRegStr SHCTX "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\Uninstall ${APPNAME}.exe" /$MultiUser.InstallMode /S'
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD SHCTX "${UNINSTKEY}" "EstimatedSize" "$0"
SectionEnd

Section /o "Desktop shortcut" SecDesktop
  SetOutPath "$PROFILE"
  CreateShortcut "$DESKTOP\${APPNAME}.lnk" "$INSTDIR\${GUIEXE}" "" "$INSTDIR\${GUIEXE}" 0
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecMain} "The ${APPNAME} window, the quire command line ($INSTDIR\${CLIEXE}) and a Start-menu entry."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "A shortcut to ${APPNAME} on the desktop."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Section "Uninstall"
  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  Delete "$DESKTOP\${APPNAME}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${CLIEXE}"
  Delete "$INSTDIR\${GUIEXE}"
  Delete "$INSTDIR\Uninstall ${APPNAME}.exe"
  RMDir "$INSTDIR"  ; only if empty: never delete what someone else put there
  DeleteRegKey SHCTX "${UNINSTKEY}"
  ; %LOCALAPPDATA%\Quire (library, index, settings, chats) is the user's and stays.
SectionEnd
