# ruff: noqa: E501  (example documents are kept as written)
"""BXML examples written for these tests, one per situation the public BXML pages illustrate.

They follow the documented shapes (which verbs, which attributes, where text goes) with values
of our own.  Each is valid call BXML unless its name says otherwise.
"""

from __future__ import annotations

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

EXAMPLES: dict[str, str] = {
    "bridge-hold-first-leg": DECL
    + """<Response>
  <SpeakSentence>Hold on while we reach the other party.</SpeakSentence>
  <Pause duration="45"/>
</Response>""",
    "bridge-with-target-callbacks": DECL
    + """<Response>
  <SpeakSentence>Connecting you now.</SpeakSentence>
  <Bridge bridgeCompleteUrl="https://app.example.net/bridge/done"
          bridgeTargetCompleteUrl="https://app.example.net/bridge/target-done">
      c-4d2f1a09-77b3e6c1-0a4e-4c5b-9d1e-2f3a4b5c6d7e
  </Bridge>
</Response>""",
    "conference-join": DECL
    + """<Response>
  <SpeakSentence gender="female">Joining the team room.</SpeakSentence>
  <Conference>team-room.weekly_1</Conference>
</Response>""",
    "conference-coach": DECL
    + """<Response>
  <Conference callIdsToCoach="c-11111111-22222222-3333-4444-5555-666666666666,c-aaaaaaaa-bbbbbbbb-cccc-dddd-eeee-ffffffffffff">coaching-room</Conference>
</Response>""",
    "forward": DECL
    + '<Response><Forward to="+13125550100" from="+13125550199" callTimeout="20"/></Response>',
    "gather-simple": DECL
    + """<Response>
  <Gather gatherUrl="https://app.example.net/menu" firstDigitTimeout="8" terminatingDigits="*">
    <SpeakSentence voice="susan">Enter your account number, then star.</SpeakSentence>
  </Gather>
</Response>""",
    "gather-repeat-no-declaration": """<Response>
  <Gather gatherUrl="/menu/choice" repeatCount="4" maxDigits="1">
    <SpeakSentence>Press any key to continue.</SpeakSentence>
  </Gather>
</Response>""",
    "gather-several-prompts": DECL
    + """<Response>
  <Gather gatherUrl="https://app.example.net/survey">
    <SpeakSentence>Question one.</SpeakSentence>
    <PlayAudio>https://media.example.net/chime.wav</PlayAudio>
    <PlayAudio>https://media.example.net/options.mp3</PlayAudio>
    <SpeakSentence>Choose now.</SpeakSentence>
  </Gather>
</Response>""",
    "hangup": DECL + "<Response>\n  <Hangup/>\n</Response>",
    "pause": DECL + '<Response><Pause duration="3.5"/></Response>',
    "pause-recording": DECL + "<Response><PauseRecording/></Response>",
    "record-then-transfer": DECL
    + """<Response>
  <SpeakSentence voice="simon">This call may be recorded.</SpeakSentence>
  <StartRecording recordingAvailableUrl="https://app.example.net/recordings"/>
  <Transfer>
    <PhoneNumber>+14045550123</PhoneNumber>
  </Transfer>
  <PauseRecording/>
  <Gather gatherUrl="https://app.example.net/after" maxDigits="1" firstDigitTimeout="12">
    <SpeakSentence voice="kate">Press two for another department.</SpeakSentence>
  </Gather>
</Response>""",
    "resume-and-stop": DECL
    + """<Response>
  <ResumeRecording/>
  <Transfer><PhoneNumber>+14045550124</PhoneNumber></Transfer>
  <StopRecording/>
  <SpeakSentence voice="bridget">Goodbye.</SpeakSentence>
</Response>""",
    "play-two-files": DECL
    + "<Response><PlayAudio>https://media.example.net/a.wav</PlayAudio>"
    + "<PlayAudio>relative/b.mp3</PlayAudio></Response>",
    "record-message": DECL
    + """<Response>
  <SpeakSentence voice="bridget">Leave a message.</SpeakSentence>
  <PlayAudio>http://media.example.net/beep.wav</PlayAudio>
  <Record recordCompleteUrl="https://app.example.net/recorded" maxDuration="30"/>
  <!-- later verbs are replaced by the recordComplete answer -->
</Response>""",
    "record-transcribed": DECL
    + '<Response><Record recordCompleteUrl="https://app.example.net/r" transcribe="true" '
    + 'transcriptionAvailableUrl="https://app.example.net/t/"/></Response>',
    "redirect": DECL
    + '<Response><Redirect redirectUrl="http://app.example.net/flow2"/><!-- note --></Response>',
    "resume-recording": DECL + "<Response><ResumeRecording/></Response>",
    "ring": DECL + '<Response><Ring duration="7" answerCall="false"/></Response>',
    "send-dtmf": DECL + "<Response><SendDtmf>98w76#</SendDtmf></Response>",
    "speak": DECL
    + '<Response>\n  <SpeakSentence voice="dave">\n    Testing one two.\n  </SpeakSentence>\n</Response>',
    "speak-ssml": DECL
    + """<Response>
  <SpeakSentence voice="esperanza">
    Welcome to <lang xml:lang="es-MX">Casa Lopez</lang>.
    <break time="500ms"/> Say <emphasis level="strong">yes</emphasis> or
    <say-as interpret-as="telephone">3125550100</say-as>.
  </SpeakSentence>
</Response>""",
    "start-gather-conference": DECL
    + '<Response><StartGather dtmfUrl="https://app.example.net/dtmf"/><Conference>ops</Conference></Response>',
    "start-stream": DECL
    + """<Response>
  <StartStream name="studio_feed" tracks="both" destination="wss://stream.example.net/in"
               streamEventUrl="https://app.example.net/stream-events">
    <StreamParam name="ticket" value="T-1001"/>
  </StartStream>
  <SpeakSentence voice="bridget">You are being streamed.</SpeakSentence>
</Response>""",
    "start-transcription": DECL
    + """<Response>
  <StartTranscription name="notes" tracks="inbound" destination="wss://stt.example.net/in"
                      transcriptionEventUrl="https://app.example.net/stt">
    <CustomParam name="agent" value="42"/>
    <CustomParam name="queue" value="support"/>
  </StartTranscription>
</Response>""",
    "stop-gather-after-transfer": DECL
    + """<Response>
  <StartGather dtmfUrl="https://app.example.net/dtmf"/>
  <Transfer><PhoneNumber>+19195550100</PhoneNumber></Transfer>
  <StopGather/>
  <SpeakSentence>
    No more digits are collected.
  </SpeakSentence>
</Response>""",
    "stop-recording": DECL + "<Response><StopRecording/></Response>",
    "stop-stream": DECL + '<Response><StopStream name="studio_feed"/></Response>',
    "stop-transcription": DECL + '<Response><StopTranscription name="notes"/></Response>',
    "tag": DECL
    + """<Response>
  <Tag>greeting</Tag>
  <PlayAudio>https://media.example.net/hello.wav</PlayAudio>
  <Tag>after greeting</Tag>
</Response>""",
    "transfer-simple": DECL
    + '<Response><Transfer transferCallerId="+16175550100"><PhoneNumber>+16175550111</PhoneNumber></Transfer></Response>',
    "transfer-announce": DECL
    + """<Response>
  <SpeakSentence voice="paul">One moment please.</SpeakSentence>
  <Transfer transferCallerId="+16175550100">
    <PhoneNumber transferAnswerUrl="http://app.example.net/whisper">+16175550112</PhoneNumber>
  </Transfer>
</Response>""",
    "transfer-multi": DECL
    + """<Response>
  <Transfer transferCallerId="+16175550100">
    <PhoneNumber>+16175550113</PhoneNumber>
    <PhoneNumber>+16175550114</PhoneNumber>
    <SipUri>sip:desk@pbx.example.net</SipUri>
  </Transfer>
</Response>""",
}

#: Valid transferAnswer BXML (run on the answering leg before the bridge).
TRANSFER_ANSWER_EXAMPLE = (
    DECL + '<Response><SpeakSentence voice="paul">A caller is waiting.</SpeakSentence></Response>'
)
