{#
  The departments' code dictionaries, as shared/contracts/sources.md lists them, in one place: staging maps every
  code with map_code() and records what it could not map with unknown_codes(), so a code a department starts to
  send without telling anybody becomes `unknown` (`U` for sex) — never an error, never null by accident — and
  is counted by int_quality__unknown_codes for the scorecard. Keys are compared after trim and full-width to
  half-width; `upper` dictionaries (sex) also ignore case. A dictionary maps the code as sent to the hub's value.
  Where the contract lists no values (特困人员.状态) the dictionary of the register it mirrors (低保对象) applies.
#}
{% macro code_dictionaries() %}
    {%- set ethnicity = {} -%}
    {#- MZ: the contract lists `01` 汉 … — GB/T 3304: 01..56, 97 其他, 98 外国血统中国籍人士 -#}
    {%- for n in (range(1, 57) | list) + [97, 98] -%}{%- do ethnicity.update({'%02d' % n: '%02d' % n}) -%}{%- endfor -%}
    {{ return({
        'sex': {'unknown': 'U', 'upper': true, 'codes': {
            '男': 'M', 'M': 'M', '1': 'M', '女': 'F', 'F': 'F', '2': 'F', '0': 'U', '9': 'U', 'U': 'U'}},
        'police_person_status': {'codes': {'0': 'normal', '1': 'deceased', '2': 'moved_out', '3': 'missing'}},
        'police_ethnicity': {'codes': ethnicity},
        'police_relation': {'codes': {'01': '01', '10': '10', '20': '20', '50': '50', '99': '99'}},
        'police_incident_category': {'codes': {
            '0101': '0101', '0102': '0102', '0103': '0103', '0104': '0104', '0105': '0105', '0201': '0201',
            '0202': '0202', '0203': '0203', '0204': '0204', '0301': '0301', '0401': '0401', '0501': '0501',
            '0502': '0502', '0503': '0503', '0601': '0601', '0999': '0999'}},
        'police_incident_outcome': {'codes': {
            '1': 'handled_on_scene', '2': 'filed_as_case', '3': 'mediated', '4': 'referred', '9': 'other'}},
        'police_incident_status': {'codes': {'0': 'open', '1': 'closed'}},
        'police_key_person_category': {'codes': {'01': '01', '02': '02', '03': '03', '04': '04', '05': '05'}},
        'grid_division_kind': {'codes': {'县': '县', '乡镇': '乡镇', '街道': '街道', '行政村': '行政村', '社区': '社区'}},
        'grid_type': {'codes': {'城市': '城市', '农村': '农村', '专属': '专属'}},
        'grid_staff_role': {'codes': {'网格长': '网格长', '专职网格员': '专职网格员', '兼职网格员': '兼职网格员'}},
        'grid_building_type': {'codes': {'住宅': '住宅', '商铺': '商铺', '厂房': '厂房', '公共': '公共'}},
        'grid_event_category': {'codes': {
            'A01': 'A01', 'A02': 'A02', 'A03': 'A03', 'A04': 'A04', 'A05': 'A05', 'A06': 'A06', 'A07': 'A07',
            'A08': 'A08', 'A99': 'A99'}},
        'grid_event_status': {'codes': {'上报': '上报', '受理': '受理', '流转': '流转', '办结': '办结', '退回': '退回'}},
        'grid_escalation_level': {'codes': {'网格': '网格', '村社区': '村社区', '乡镇街道': '乡镇街道', '部门': '部门'}},
        'civil_status': {'codes': {'在保': 'active', '停保': 'suspended'}},
        'civil_allowance_type': {'codes': {'城市低保': 'urban', '农村低保': 'rural'}},
        'civil_support_mode': {'codes': {'集中供养': 'centralised', '分散供养': 'dispersed'}},
        'civil_disability_type': {'codes': {
            '视力': 'visual', '听力': 'hearing', '言语': 'speech', '肢体': 'physical', '智力': 'intellectual',
            '精神': 'psychiatric', '多重': 'multiple'}},
        'civil_disability_grade': {'codes': {'一级': '1', '二级': '2', '三级': '3', '四级': '4'}},
        'civil_left_behind_type': {'codes': {'留守儿童': 'child', '留守老人': 'elderly', '留守妇女': 'woman'}},
        'justice_correction_type': {'codes': {
            'probation': 'probation', 'parole': 'parole', 'temporary_outside_execution': 'temporary_outside_execution',
            'deprivation_of_political_rights': 'deprivation_of_political_rights'}},
        'justice_correction_status': {'codes': {'active': 'active', 'ended': 'ended', 'revoked': 'revoked'}},
        'justice_resettlement_status': {'codes': {'helping': 'helping', 'ended': 'ended', 'lost_contact': 'lost_contact'}},
        'justice_dispute_type': {'codes': {
            'marriage_family': 'marriage_family', 'neighbor': 'neighbor', 'land': 'land', 'labor': 'labor',
            'property': 'property', 'contract': 'contract', 'other': 'other'}},
        'justice_mediation_outcome': {'codes': {
            'ongoing': 'ongoing', 'success': 'success', 'failed': 'failed', 'transferred': 'transferred'}},
        'petition_channel': {'codes': {'来信': '来信', '来访': '来访', '网上': '网上', '电话': '电话'}},
        'petition_category': {'codes': {
            '征地拆迁': '征地拆迁', '劳动社保': '劳动社保', '涉法涉诉': '涉法涉诉', '城乡建设': '城乡建设',
            '农村农业': '农村农业', '民政': '民政', '卫生健康': '卫生健康', '其他': '其他'}},
        'petition_escalation': {'codes': {'本级': '本级', '越级': '越级', '赴省': '赴省', '进京': '进京'}},
        'petition_status': {'codes': {'受理': '受理', '办理中': '办理中', '办结': '办结', '不予受理': '不予受理'}},
        'petition_satisfaction': {'codes': {'满意': '满意', '基本满意': '基本满意', '不满意': '不满意', '未评价': '未评价'}},
        'health_management_status': {'codes': {
            'in_management': 'in_management', 'lost': 'lost', 'deceased': 'deceased', 'moved_out': 'moved_out'}},
        'health_followup_type': {'codes': {'home': 'home', 'phone': 'phone', 'clinic': 'clinic'}},
    }) }}
{% endmacro %}

{# The comparison key of a code as sent: trimmed, half-width, upper-case for case-blind dictionaries. #}
{% macro code_key(column, dictionary) -%}
    {%- set d = code_dictionaries()[dictionary] -%}
    {%- if d.get('upper') -%}upper(trim(util.hub_fw2hw({{ column }}))){%- else -%}trim(util.hub_fw2hw({{ column }})){%- endif -%}
{%- endmacro %}

{# The hub's value of a code: the dictionary's value, else the dictionary's unknown outcome ('unknown'; 'U' for
   sex). Empty and missing codes are unknown too. #}
{% macro map_code(column, dictionary) -%}
    {%- set d = code_dictionaries()[dictionary] -%}
    case {{ code_key(column, dictionary) }}
        {%- for code, value in d['codes'].items() %} when '{{ code }}' then '{{ value }}'{% endfor %}
        else '{{ d.get("unknown", "unknown") }}' end
{%- endmacro %}

{# True when a code was sent (not empty) and its dictionary does not list it. #}
{% macro code_is_unlisted(column, dictionary) -%}
    {%- set d = code_dictionaries()[dictionary] -%}
    (nullif(trim({{ column }}), '') is not null
     and {{ code_key(column, dictionary) }} not in ({% for code in d['codes'] %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{#
  unknown_codes: one jsonb per staging row, {"<contract column>": "<code as sent>"} for every code of the row
  that its dictionary does not list ({} when none). `codes` is a list of (contract column, raw column,
  dictionary). int_quality__unknown_codes counts them; values are cut to 100 characters.
#}
{% macro unknown_codes(codes) -%}
    jsonb_strip_nulls(jsonb_build_object(
        {%- for name, column, dictionary in codes %}
        '{{ name }}', case when {{ code_is_unlisted(column, dictionary) }} then left(trim({{ column }}), 100) end
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ))
{%- endmacro %}
